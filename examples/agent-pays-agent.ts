/**
 * One agent pays another for work, in compute credits, on the CRDT ledger: both nodes end with
 * the same balances, and both cost reports show the payment under its tag.
 *
 *   npx tsx examples/agent-pays-agent.ts
 */
import 'tally/polyfill'
import { createTallyNode, parseConfig } from 'tally'

const dir = `./.tally-example-${process.pid}`
const alice = await createTallyNode(parseConfig({ dataDir: `${dir}/alice`, transport: 'memory' }), { memoryLedger: true })
await alice.start()
const bob = await createTallyNode(parseConfig({ dataDir: `${dir}/bob`, transport: 'memory', bootstrap: alice.addrs() }), { memoryLedger: true })
await bob.start()
while (alice.base.gossipPeers('records').length === 0) await new Promise(resolve => setTimeout(resolve, 50))

// Alice pays Bob 0.25 credits for a summary he wrote
await alice.pay(bob.account, 250_000n, { memo: 'summary of chapter 1', tag: 'research' })
while ((await bob.balance(bob.account)).balanceUc !== 250_000n) await new Promise(resolve => setTimeout(resolve, 50))

console.log('alice sees:', (await alice.balance(alice.account)).balanceUc, 'µc;', 'bob sees:', (await bob.balance(bob.account)).balanceUc, 'µc')
console.log('alice report:', (await alice.report({ by: 'tag' })).rows)
console.log('bob report:', (await bob.report({ by: 'tag' })).rows)
console.log('ledgers agree:', JSON.stringify(alice.balances(), (_k, v) => typeof v === 'bigint' ? v.toString() : v) === JSON.stringify(bob.balances(), (_k, v) => typeof v === 'bigint' ? v.toString() : v))

for (const n of [bob, alice]) await n.stop()
const { rm } = await import('node:fs/promises')
await rm(dir, { recursive: true, force: true })
