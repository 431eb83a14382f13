/** Shared by the whole-node e2e tests: real TallyNodes on the memory transport, cleaned up after each test. */
import { afterEach } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createTallyNode, type TallyNode, type TallyNodeInit } from '../../src/node/tally.js'
import { parseConfig } from '../../src/node/config.js'
import type { Gateway } from '../../src/api/gateway.js'

const nodes: TallyNode[] = []
const gateways: Gateway[] = []
const dirs: string[] = []

/** registers the cleanup hook in the calling test file */
export function useTallyCleanup (): void {
  afterEach(async () => {
    await Promise.all(gateways.splice(0).map(async g => await g.close()))
    await Promise.all(nodes.splice(0).map(async n => await n.stop().catch(() => {})))
    await Promise.all(dirs.splice(0).map(async d => await rm(d, { recursive: true, force: true })))
  })
}

export function trackGateway (g: Gateway): Gateway {
  gateways.push(g)
  return g
}

/** a started node on the memory transport with an in-memory ledger */
export async function startNode (config: { bootstrap?: string[], genesis?: Record<string, unknown> } = {}, init: TallyNodeInit = {}): Promise<TallyNode> {
  const dataDir = await mkdtemp(join(tmpdir(), 'tally-e2e-'))
  dirs.push(dataDir)
  const n = await createTallyNode(parseConfig({ dataDir, transport: 'memory', bootstrap: config.bootstrap ?? [], ...(config.genesis != null ? { genesis: config.genesis } : {}) }), { memoryLedger: true, ...init })
  nodes.push(n)
  await n.start()
  return n
}

