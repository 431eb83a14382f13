/**
 * The seller's side of a paid session, between negotiation and the ledger: a two-signed
 * contract becomes a servable session only once the buyer's valid `open` for it is in the
 * ledger; when the buyer closes the session, or it expires, the seller settles it with the
 * highest voucher and frees the capacity. When each of these happens is the seller session
 * machine's decision (exec/session/seller-machine.ts); this desk feeds it and acts on it.
 */
import type { Logger } from '@libp2p/interface'
import type { Contract } from '../contract/messages.js'
import { DEFAULT_OPEN_WITHIN_MS, type Negotiator } from '../contract/negotiate.js'
import type { SellerSessions, ClosedSession, SessionActivity } from '../exec/infer/sessions.js'
import type { SessionTerms } from '../exec/infer/terms.js'
import { SellerSessionTable, type SellerEffect, type SellerEvent, type SellerMachineConfig } from '../exec/session/seller-machine.js'
import type { LedgerService } from '../ledger/service.js'
import type { ParsedRecord } from '../ledger/record.js'
import { ErrorCode, TallyError } from '../errors/index.js'

/** how often the session machine is told the time (its deadlines are in its state) */
export const SESSION_TICK_MS = 1_000

/** a request waits this long for gossip to bring the open before pulling the buyer's chain */
const PULL_AFTER_MS = 150
/** then pulls again this often while it waits */
const PULL_EVERY_MS = 1_000

/** a large session's open is looked for at a second peer this often */
const CONFIRM_EVERY_MS = 250

/** opens remembered while their contract event is on its way */
const MAX_EARLY_OPENS = 1_000

interface Waiter { resolve: () => void, reject: (err: unknown) => void }

export class UnknownContractError extends TallyError {
  override name = 'UnknownContractError'
  override readonly code: ErrorCode = ErrorCode.sessionUnknown
}

/** a request was waiting for its session when the seller began to stop */
export class SellerStoppingError extends TallyError {
  override name = 'SellerStoppingError'
  override readonly code: ErrorCode = ErrorCode.sellerShuttingDown
}

export interface SellerDeskComponents {
  ledger: LedgerService
  /**
   * Pull a buyer's chain from the buyer itself (/tally/fetch): its `open` may not have reached
   * this node by gossip yet (e.g. the two only just connected). Records go through `ingest`.
   */
  pullChain?: (buyer: Uint8Array, fromSeq: bigint, signal: AbortSignal) => Promise<void>
  /**
   * Whether a peer other than the buyer holds this record: for contracts whose quote set
   * `secondPeerAboveUc`, a larger lock is served only once the buyer's `open` is known beyond
   * the buyer (a double spender would have to fork in front of two nodes at once). Without it
   * such a contract is served at once.
   */
  seenElsewhere?: (recordId: string, buyer: Uint8Array, signal: AbortSignal) => Promise<boolean>
  negotiator: Negotiator
  sessions: SellerSessions
  now: () => number
  log: Logger
  /** the seller journal (node/seller-journal.ts): a session is journaled once its open is in, dropped once settled */
  journal?: { opened: (contractHex: string, openId: string) => void, settled: (contractHex: string) => void }
  /** deadlines of the session machine (defaults in exec/session/seller-machine.ts) */
  machine?: SellerMachineConfig
  /** a contract whose quote states no open_within_ms is reserved this long for its open (default 5 s) */
  openWithinMs?: number
  /** told whenever the number of requests running on a model's sessions changes (its slots; infer.md § Capacity) */
  onRunning?: (modelId: string, running: number) => void
}

/**
 * Drives the seller's session machine: feeds it contracts, ledger opens, request activity,
 * closes and the time, and carries out its effects (capacity, admission, settles). It holds
 * no session state of its own beyond the contracts' data and the requests waiting on them.
 */
export class SellerDesk {
  private readonly table: SellerSessionTable
  /** the contract of every live session, by contract id hex (its data; its state is in the table) */
  private readonly contracts = new Map<string, Contract>()
  private readonly waiters = new Map<string, Waiter[]>()
  /** opens naming this seller that arrived before their contract's event (bounded) */
  private readonly earlyOpens = new Map<string, ParsedRecord>()
  /** settles under way, awaited on stop */
  private readonly settling = new Set<Promise<void>>()
  /** one timer per reservation, so it ends at its open deadline rather than on the next tick */
  private readonly openTimers = new Map<string, ReturnType<typeof setTimeout>>()
  private readonly myKey: string
  /** sessions running a request now (contract id hex → model): what the offer's slots count */
  private readonly running = new Map<string, string>()
  private ticker?: ReturnType<typeof setInterval>
  /** set by stop(): requests still waiting for their session are told the seller is shutting down */
  private stopping = false
  settled = 0

  constructor (private readonly c: SellerDeskComponents, myPublicKey: Uint8Array) {
    this.myKey = Buffer.from(myPublicKey).toString('hex')
    this.table = new SellerSessionTable(c.machine)
    c.sessions.observe((contractId, a) => { this.onActivity(contractId, a) })
  }

  start (): void {
    if (this.ticker != null) return
    this.stopping = false
    this.ticker = setInterval(() => { this.tick() }, SESSION_TICK_MS)
    this.ticker.unref?.()
  }

  async stop (): Promise<void> {
    this.stopping = true
    if (this.ticker != null) clearInterval(this.ticker)
    this.ticker = undefined
    for (const t of this.openTimers.values()) clearTimeout(t)
    this.openTimers.clear()
    // settle what is open with what was vouchered, so nothing earned is lost on restart
    for (const hex of this.table.ids()) this.feed(hex, { type: 'stop' })
    await Promise.allSettled([...this.settling])
    this.c.sessions.observe(undefined)
  }

  /** a contract this node countersigned as seller */
  onContract (contract: Contract): void {
    const hex = Buffer.from(contract.contractId).toString('hex')
    const secondPeer = this.c.seenElsewhere != null ? contract.secondPeerAboveUc ?? 0n : 0n
    // the contract reserves capacity only until the buyer's open: open_within_ms from now
    const openWithinMs = (contract.openWithinMs ?? 0n) > 0n ? Number(contract.openWithinMs) : this.c.openWithinMs ?? DEFAULT_OPEN_WITHIN_MS
    if (!this.table.contracted({
      contractId: hex,
      buyer: Buffer.from(contract.buyer).toString('hex'),
      modelId: contract.modelId,
      maxSpendUc: contract.maxSpendUc,
      expiresAtMs: Number(contract.expiresAtMs),
      secondPeerAboveUc: secondPeer,
      openByMs: this.c.now() + openWithinMs
    })) return
    this.contracts.set(hex, contract)
    if (this.ticker != null) {
      const t = setTimeout(() => { this.openTimers.delete(hex); this.feed(hex, { type: 'tick' }) }, openWithinMs)
      t.unref?.()
      this.openTimers.set(hex, t)
    }
    const early = this.earlyOpens.get(hex)
    if (early != null) {
      this.earlyOpens.delete(hex)
      this.onAccepted([early])
    }
  }

  /** records that just became valid in the ledger: activate sessions whose open arrived */
  onAccepted (records: ParsedRecord[]): void {
    for (const r of records) {
      if (r.kind.type !== 'open' || r.kind.seller !== this.myKey) continue
      const hex = r.kind.contractId
      if (!this.table.has(hex)) {
        if (this.earlyOpens.size >= MAX_EARLY_OPENS) this.earlyOpens.delete(this.earlyOpens.keys().next().value as string)
        this.earlyOpens.set(hex, r)
        continue
      }
      this.feed(hex, { type: 'open', openId: r.id, buyer: r.from, maxSpendUc: r.kind.maxSpendUc })
    }
  }

  /** resolves once the session for this contract is servable (its open arrived) */
  async awaitSession (contractId: Uint8Array, signal: AbortSignal): Promise<void> {
    const hex = Buffer.from(contractId).toString('hex')
    if (this.c.sessions.get(contractId) != null) return
    const phase = this.table.get(hex)?.phase
    if (phase !== 'contracted' && phase !== 'confirming') throw new UnknownContractError(`no contract ${hex.slice(0, 16)} negotiated with this seller`)
    await new Promise<void>((resolve, reject) => {
      const list = this.waiters.get(hex) ?? []
      const w: Waiter = {
        resolve: () => { signal.removeEventListener('abort', onAbort); resolve() },
        reject: (err) => { signal.removeEventListener('abort', onAbort); reject(err) }
      }
      const onAbort = (): void => {
        this.waiters.set(hex, (this.waiters.get(hex) ?? []).filter(x => x !== w))
        reject(new UnknownContractError(`the buyer's open for contract ${hex.slice(0, 16)} did not arrive in time`))
      }
      signal.addEventListener('abort', onAbort, { once: true })
      list.push(w)
      this.waiters.set(hex, list)
      const contract = this.contracts.get(hex)
      if (phase === 'contracted' && contract != null && this.c.pullChain != null) void this.pullUntilOpened(hex, contract, signal)
    })
  }

  /** the buyer closed the session */
  onClosed (closed: ClosedSession): void {
    this.feed(Buffer.from(closed.terms.contractId).toString('hex'), { type: 'buyer-closed' })
  }

  /** tell every session the time; the timer calls this, a test or simulator may too */
  tick (): void {
    for (const r of this.table.tick(this.c.now())) this.run(r.contractId, r.effects)
  }

  /** sessions whose open arrived and that are not closing yet */
  activeSessions (): number {
    return this.table.count('confirming') + this.table.count('serving')
  }

  /** requests running now on sessions of a model (or of all models) */
  runningRequests (modelId?: string): number {
    let n = 0
    for (const m of this.running.values()) if (modelId == null || m === modelId) n++
    return n
  }

  private setRunning (hex: string, running: boolean): void {
    const model = running ? this.contracts.get(hex)?.modelId : this.running.get(hex)
    if (model == null || running === this.running.has(hex)) return
    if (running) this.running.set(hex, model)
    else this.running.delete(hex)
    this.c.onRunning?.(model, this.runningRequests(model))
  }

  private onActivity (contractId: Uint8Array, a: SessionActivity): void {
    const hex = Buffer.from(contractId).toString('hex')
    if (a.type === 'request-began') this.setRunning(hex, true)
    else if (a.type === 'request-ended') this.setRunning(hex, false)
    const e: SellerEvent = a.type === 'voucher'
      ? { type: 'voucher', voucher: { nonce: a.voucher.nonce, amountUc: a.voucher.amountUc, bytes: a.voucher.bytes } }
      : a
    this.feed(hex, e)
  }

  private feed (hex: string, e: SellerEvent): void {
    const r = this.table.apply(hex, e, this.c.now())
    if (r != null) this.run(hex, r.effects)
  }

  private run (hex: string, effects: SellerEffect[]): void {
    const contract = this.contracts.get(hex)
    if (contract == null) return
    // an ended session's data goes with it, whatever its last effects
    if (!this.table.has(hex)) {
      this.setRunning(hex, false)
      this.contracts.delete(hex)
    }
    if (!this.table.has(hex) || this.table.get(hex)?.phase !== 'contracted') this.clearOpenTimer(hex)
    for (const e of effects) {
      switch (e.type) {
        case 'slot-taken':
          this.c.negotiator.markOpened(contract.contractId)
          break
        case 'release-reservation':
          this.c.negotiator.releaseSession(contract.contractId, { lapsed: e.lapsed === true })
          break
        case 'admit': {
          const st = this.table.get(hex)
          if (st != null && 'openId' in st) this.c.journal?.opened(hex, st.openId)
          this.c.sessions.add(termsOf(contract))
          for (const w of this.waiters.get(hex) ?? []) w.resolve()
          this.waiters.delete(hex)
          break
        }
        case 'confirm-open':
          this.c.journal?.opened(hex, e.openId)
          void this.confirm(hex, e.openId, contract)
          break
        case 'fail-waiters':
          for (const w of this.waiters.get(hex) ?? []) w.reject(this.stopping ? new SellerStoppingError(e.reason) : new UnknownContractError(e.reason))
          this.waiters.delete(hex)
          break
        case 'stop-requests':
          this.c.sessions.closeSession(contract.contractId)
          break
        case 'publish-settle': {
          if (e.voucher == null) this.c.log('settling open %s empty (nothing was served)', e.openId.slice(0, 12))
          const p = this.settle(hex, e.openId, e.voucher?.bytes)
          this.settling.add(p)
          void p.finally(() => this.settling.delete(p))
          break
        }
        case 'forget':
          this.c.sessions.remove(contract.contractId)
          break
        case 'ignored-open':
          this.c.log('open %s does not match contract %s: %s', e.openId.slice(0, 12), hex.slice(0, 12), e.why)
          break
      }
    }
  }

  private clearOpenTimer (hex: string): void {
    const t = this.openTimers.get(hex)
    if (t == null) return
    clearTimeout(t)
    this.openTimers.delete(hex)
  }

  private async settle (hex: string, openId: string, voucherBytes: Uint8Array | undefined): Promise<void> {
    try {
      await this.c.ledger.settleSession({ openId, voucherBytes })
      this.c.journal?.settled(hex)
      this.settled++
      this.feed(hex, { type: 'settle-done' })
    } catch (err: any) {
      this.c.log.error('settling contract %s failed: %s', hex.slice(0, 12), err?.message)
      this.feed(hex, { type: 'settle-failed', message: String(err?.message ?? err) })
    }
  }

  /** a large session: ask other peers for the open until the machine confirms it or gives up */
  private async confirm (hex: string, openId: string, contract: Contract): Promise<void> {
    while (this.table.get(hex)?.phase === 'confirming') {
      try {
        if (await this.c.seenElsewhere!(openId, contract.buyer, AbortSignal.timeout(CONFIRM_EVERY_MS * 4))) {
          this.feed(hex, { type: 'open-confirmed' })
          return
        }
      } catch (err: any) {
        this.c.log('confirming open %s: %s', openId.slice(0, 12), err?.message)
      }
      await sleep(CONFIRM_EVERY_MS)
      // the confirmation deadline is finer than the shared tick
      this.feed(hex, { type: 'tick' })
    }
  }

  private async pullUntilOpened (hex: string, contract: Contract, signal: AbortSignal): Promise<void> {
    let delay = PULL_AFTER_MS
    const waiting = (): boolean => !signal.aborted && this.table.get(hex)?.phase === 'contracted'
    while (waiting()) {
      await sleep(delay)
      delay = PULL_EVERY_MS
      if (!waiting()) return
      const buyerHex = Buffer.from(contract.buyer).toString('hex')
      const fromSeq = BigInt(this.c.ledger.ledger.history(buyerHex).length) + 1n
      try {
        await this.c.pullChain!(contract.buyer, fromSeq, signal)
      } catch (err: any) {
        this.c.log('pulling the chain of buyer %s: %s', buyerHex.slice(0, 12), err?.message)
      }
    }
  }
}

async function sleep (ms: number): Promise<void> {
  await new Promise(resolve => { const t = setTimeout(resolve, ms); t.unref?.() })
}

export function termsOf (contract: Contract): SessionTerms {
  return {
    contractId: contract.contractId,
    buyer: contract.buyer,
    seller: contract.seller,
    modelId: contract.modelId,
    params: Number(contract.params),
    priceInPerMTokUc: contract.priceInPerMTokUc,
    priceOutPerMTokUc: contract.priceOutPerMTokUc,
    maxSpendUc: contract.maxSpendUc,
    expiresAtMs: Number(contract.expiresAtMs),
    maxUnpaidUc: contract.maxUnpaidUc
  }
}
