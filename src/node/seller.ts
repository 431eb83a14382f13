/**
 * The seller's side of a paid session, between negotiation and the ledger: a two-signed
 * contract becomes a servable session only once the buyer's valid `open` for it is in the
 * ledger; when the buyer closes the session, or it expires, the seller settles it with the
 * highest voucher and frees the capacity.
 */
import type { Logger } from '@libp2p/interface'
import type { Contract } from '../contract/messages.js'
import type { Negotiator } from '../contract/negotiate.js'
import type { SellerSessions, ClosedSession } from '../exec/infer/sessions.js'
import type { SessionTerms } from '../exec/infer/terms.js'
import type { LedgerService } from '../ledger/service.js'
import type { ParsedRecord } from '../ledger/record.js'
import { ErrorCode, TallyError } from '../errors/index.js'

/** how often expired sessions are settled */
export const EXPIRY_SWEEP_MS = 5_000

/** a request waits this long for gossip to bring the open before pulling the buyer's chain */
const PULL_AFTER_MS = 150
/** then pulls again this often while it waits */
const PULL_EVERY_MS = 1_000

/** a large session's open is looked for at a second peer this often ... */
const CONFIRM_EVERY_MS = 250
/** ... for at most this long */
const CONFIRM_FOR_MS = 30_000

/** opens remembered while their contract event is on its way */
const MAX_EARLY_OPENS = 1_000

interface Waiter { resolve: () => void, reject: (err: unknown) => void }

export class UnknownContractError extends TallyError {
  override name = 'UnknownContractError'
  override readonly code: ErrorCode = ErrorCode.sessionUnknown
}

export interface SellerDeskComponents {
  ledger: LedgerService
  /**
   * Pull a buyer's chain from the buyer itself (/tally/fetch): its `open` may not have reached
   * this node by gossip yet (e.g. the two only just connected). Records go through `ingest`.
   */
  pullChain?: (buyer: Uint8Array, fromSeq: bigint, signal: AbortSignal) => Promise<void>
  /**
   * Whether a peer other than the buyer holds this record: for sessions locking more than
   * `secondPeerAboveUc`, the seller serves only once the buyer's `open` is known beyond the buyer
   * (a double spender would have to fork in front of two nodes at once).
   */
  seenElsewhere?: (recordId: string, buyer: Uint8Array, signal: AbortSignal) => Promise<boolean>
  secondPeerAboveUc?: bigint
  negotiator: Negotiator
  sessions: SellerSessions
  now: () => number
  log: Logger
}

export class SellerDesk {
  /** two-signed contracts whose buyer has not published its open yet, by contract id hex */
  private readonly contracts = new Map<string, Contract>()
  /** open record id per active contract, for the settle */
  private readonly openIds = new Map<string, string>()
  private readonly waiters = new Map<string, Waiter[]>()
  /** opens naming this seller that arrived before their contract's event (bounded) */
  private readonly earlyOpens = new Map<string, ParsedRecord>()
  private readonly myKey: string
  private sweep?: ReturnType<typeof setInterval>
  settled = 0

  constructor (private readonly c: SellerDeskComponents, myPublicKey: Uint8Array) {
    this.myKey = Buffer.from(myPublicKey).toString('hex')
  }

  start (): void {
    this.sweep = setInterval(() => { void this.settleExpired() }, EXPIRY_SWEEP_MS)
    this.sweep.unref?.()
  }

  async stop (): Promise<void> {
    if (this.sweep != null) clearInterval(this.sweep)
    for (const ws of this.waiters.values()) for (const w of ws) w.reject(new UnknownContractError('seller stopping'))
    this.waiters.clear()
    // settle what is open with what was vouchered, so nothing earned is lost on restart
    for (const hex of [...this.openIds.keys()]) {
      const closed = this.c.sessions.closeSession(Buffer.from(hex, 'hex'))
      if (closed != null) await this.settle(closed)
    }
  }

  /** a contract this node countersigned as seller */
  onContract (contract: Contract): void {
    const hex = Buffer.from(contract.contractId).toString('hex')
    this.contracts.set(hex, contract)
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
      const contract = this.contracts.get(r.kind.contractId)
      if (contract == null) {
        if (!this.openIds.has(r.kind.contractId)) {
          if (this.earlyOpens.size >= MAX_EARLY_OPENS) this.earlyOpens.delete(this.earlyOpens.keys().next().value as string)
          this.earlyOpens.set(r.kind.contractId, r)
        }
        continue
      }
      if (Buffer.from(contract.buyer).toString('hex') !== r.from || r.kind.maxSpendUc !== contract.maxSpendUc) {
        this.c.log('open %s does not match contract %s: ignored', r.id.slice(0, 12), r.kind.contractId.slice(0, 12))
        continue
      }
      this.contracts.delete(r.kind.contractId)
      this.openIds.set(r.kind.contractId, r.id)
      if (this.c.secondPeerAboveUc != null && r.kind.maxSpendUc > this.c.secondPeerAboveUc && this.c.seenElsewhere != null) {
        void this.confirmThenActivate(r.kind.contractId, r.id, contract)
      } else {
        this.activate(r.kind.contractId, contract)
      }
    }
  }

  private activate (hex: string, contract: Contract): void {
    this.c.sessions.add(termsOf(contract))
    for (const w of this.waiters.get(hex) ?? []) w.resolve()
    this.waiters.delete(hex)
  }

  /** a large session: wait until a second peer holds the open (until the contract expires) */
  private async confirmThenActivate (hex: string, openId: string, contract: Contract): Promise<void> {
    const deadline = Math.min(Number(contract.expiresAtMs), this.c.now() + CONFIRM_FOR_MS)
    while (this.c.now() < deadline && this.openIds.get(hex) === openId) {
      try {
        if (await this.c.seenElsewhere!(openId, contract.buyer, AbortSignal.timeout(CONFIRM_EVERY_MS * 4))) {
          this.activate(hex, contract)
          return
        }
      } catch (err: any) {
        this.c.log('confirming open %s: %s', openId.slice(0, 12), err?.message)
      }
      await new Promise(resolve => { const t = setTimeout(resolve, CONFIRM_EVERY_MS); t.unref?.() })
    }
    if (this.openIds.get(hex) !== openId) return
    // never served: release the buyer's lock with an empty settle
    this.c.log('open %s was not seen by a second peer: session not served, lock released', openId.slice(0, 12))
    this.openIds.delete(hex)
    this.c.negotiator.releaseSession(contract.contractId)
    try {
      await this.c.ledger.settleSession({ openId })
      this.settled++
    } catch (err: any) {
      this.c.log.error('releasing open %s failed: %s', openId.slice(0, 12), err?.message)
    }
  }

  /** resolves once the session for this contract is servable (its open arrived) */
  async awaitSession (contractId: Uint8Array, signal: AbortSignal): Promise<void> {
    const hex = Buffer.from(contractId).toString('hex')
    if (this.c.sessions.get(contractId) != null) return
    if (!this.contracts.has(hex) && !this.openIds.has(hex)) throw new UnknownContractError(`no contract ${hex.slice(0, 16)} negotiated with this seller`)
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
      if (contract != null && this.c.pullChain != null) void this.pullUntilActive(hex, contract, signal)
    })
  }

  private async pullUntilActive (hex: string, contract: Contract, signal: AbortSignal): Promise<void> {
    let delay = PULL_AFTER_MS
    while (!signal.aborted && this.contracts.has(hex)) {
      await new Promise(resolve => { const t = setTimeout(resolve, delay); t.unref?.() })
      delay = PULL_EVERY_MS
      if (signal.aborted || !this.contracts.has(hex)) return
      const buyerHex = Buffer.from(contract.buyer).toString('hex')
      const fromSeq = BigInt(this.c.ledger.ledger.history(buyerHex).length) + 1n
      try {
        await this.c.pullChain!(contract.buyer, fromSeq, signal)
      } catch (err: any) {
        this.c.log('pulling the chain of buyer %s: %s', buyerHex.slice(0, 12), err?.message)
      }
    }
  }

  /** the buyer closed the session */
  onClosed (closed: ClosedSession): void {
    void this.settle(closed)
  }

  private async settleExpired (): Promise<void> {
    for (const closed of this.c.sessions.expire()) await this.settle(closed)
    const now = this.c.now()
    for (const [hex, contract] of this.contracts) {
      if (Number(contract.expiresAtMs) <= now) {
        this.contracts.delete(hex)
        this.c.negotiator.releaseSession(contract.contractId)
      }
    }
  }

  private async settle (closed: ClosedSession): Promise<void> {
    const hex = Buffer.from(closed.terms.contractId).toString('hex')
    const openId = this.openIds.get(hex)
    this.openIds.delete(hex)
    this.c.negotiator.releaseSession(closed.terms.contractId)
    this.c.sessions.remove(closed.terms.contractId)
    if (openId == null) return
    try {
      await this.c.ledger.settleSession({ openId, voucherBytes: closed.highestVoucher?.bytes })
      this.settled++
    } catch (err: any) {
      this.c.log.error('settling contract %s failed: %s', hex.slice(0, 12), err?.message)
    }
  }

  activeSessions (): number {
    return this.openIds.size
  }
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
    expiresAtMs: Number(contract.expiresAtMs)
  }
}
