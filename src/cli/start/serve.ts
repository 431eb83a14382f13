/**
 * Builds the backend a seller serves from `tally start` flags: a GGUF file (or `tiny`, the
 * repo's generated model) through the embedded engine, or any OpenAI-compatible server.
 */
import { UsageError } from '../io.js'
import { createEmbeddedBackend } from '../../exec/backends/embedded/index.js'
import { createHttpBackend } from '../../exec/backends/http/index.js'
import { ensureTinyModel } from '../../exec/model/tiny.js'
import type { Backend } from '../../exec/backend.js'
import { DEFAULT_MAX_UNPAID_YOUNG_UC, type SellerRiskPolicy } from '../../contract/policy.js'
import { MAX_TRUSTED_GRANTORS } from '../../contract/messages.js'
import { publicKeyFromAccountId } from '../../identity/account.js'
import { CAPABILITIES } from '../../market/offer.js'
import type { AuctionSellInit } from '../../node/auction/index.js'

export interface ServeFlags {
  serve?: string
  serveHttp?: string
  modelId?: string
  params?: string
  apiKeyEnv?: string
  threads?: string
  gpu?: boolean
  maxSessions?: string
  priceIn?: string
  priceOut?: string
  /** serve no buyer whose lock rests on a credit line or a grant */
  refuseCredit?: boolean
  maxUnpaid?: string
  maxUnpaidTotal?: string
  /** accounts whose grants this seller serves on (quote term trusted_grantors) */
  trustGrantor?: string[]
  /** what the --serve-http upstream serves (market.md § Capabilities) */
  capabilities?: string[]
  /** reverse auction (protocols/auction.md § Seller policy): % off posted prices for deferred work, and for idle slots */
  batchDiscount?: string
  idleDiscount?: string
  /** commander's --no-auction: false when given */
  auction?: boolean
}

export interface SellPlan {
  backend: Backend
  priceInPerMTokUc: bigint
  priceOutPerMTokUc: bigint
  maxSessions: number
  /** the seller's risk policy (protocols/negotiate.md § Seller risk policy); absent fields take the defaults */
  risk: SellerRiskPolicy
  /** how it answers bids (protocols/auction.md § Seller policy); absent fields take the defaults */
  auction: AuctionSellInit
}

/** --batch-discount / --idle-discount: integer percentages, together at most 100 */
function pct (v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined
  if (!/^[0-9]{1,3}$/.test(v) || Number(v) > 100) throw new UsageError(`${flag} must be an integer percentage 0..100, got ${JSON.stringify(v)}`)
  return Number(v)
}

function auctionPlan (f: ServeFlags): AuctionSellInit {
  const auction: AuctionSellInit = {}
  const batch = pct(f.batchDiscount, '--batch-discount')
  const idle = pct(f.idleDiscount, '--idle-discount')
  if (batch != null) auction.batchDiscountPct = batch
  if (idle != null) auction.idleDiscountPct = idle
  if (f.auction === false) {
    if (batch != null || idle != null) throw new UsageError('--no-auction excludes --batch-discount and --idle-discount (a seller that answers no bid has no auction price)')
    auction.disabled = true
  }
  // the defaults are 30 and 20: a flag given alone is checked against the other's default
  if ((batch ?? 30) + (idle ?? 20) > 100) throw new UsageError(`--batch-discount + --idle-discount must be at most 100 %, got ${batch ?? 30} + ${idle ?? 20}`)
  return auction
}

function positiveInt (v: string | undefined, flag: string, max: number): number | undefined {
  if (v === undefined) return undefined
  if (!/^[0-9]{1,16}$/.test(v) || Number(v) < 1 || Number(v) > max) throw new UsageError(`${flag} must be an integer 1..${max}, got ${JSON.stringify(v)}`)
  return Number(v)
}

function uc (v: string | undefined, flag: string): bigint | undefined {
  if (v === undefined) return undefined
  if (!/^[1-9][0-9]{0,15}$/.test(v)) throw new UsageError(`${flag} must be a positive integer of µc per 1M tokens, got ${JSON.stringify(v)}`)
  return BigInt(v)
}

/** --trust-grantor accounts (or TALLY_TRUST_GRANTORS, comma-separated) as keys: each a valid account id, none twice, at most MAX_TRUSTED_GRANTORS */
function trustedGrantors (flag: string[] | undefined, env: string | undefined): Uint8Array[] | undefined {
  const ids = flag ?? (env != null && env !== '' ? env.split(',').map(s => s.trim()).filter(s => s.length > 0) : undefined)
  if (ids == null) return undefined
  const from = flag != null ? '--trust-grantor' : 'TALLY_TRUST_GRANTORS'
  if (ids.length === 0) throw new UsageError(`${from} names no account`)
  if (ids.length > MAX_TRUSTED_GRANTORS) throw new UsageError(`${from}: at most ${MAX_TRUSTED_GRANTORS} accounts, got ${ids.length}`)
  if (new Set(ids).size !== ids.length) throw new UsageError(`${from} names an account twice`)
  return ids.map(id => {
    try {
      return publicKeyFromAccountId(id)
    } catch {
      throw new UsageError(`${from}: ${JSON.stringify(id.slice(0, 80))} is not an account id (12D3KooW…)`)
    }
  })
}

/**
 * `--capabilities` of a --serve-http upstream: names from market.md § Capabilities, comma-separated
 * or repeated; chat is always included (default: chat only, since an upstream's support of tools
 * or JSON schemas cannot be known from outside).
 */
export function httpCapabilities (list: string[] | undefined): string[] {
  const names = (list ?? []).flatMap(s => s.split(',')).map(s => s.trim()).filter(s => s !== '')
  for (const n of names) {
    if (!(CAPABILITIES as readonly string[]).includes(n)) throw new UsageError(`--capabilities: ${JSON.stringify(n.slice(0, 40))} is not a capability (one of ${CAPABILITIES.join(', ')})`)
  }
  return [...new Set(['chat', ...names])]
}

function amountUc (v: string | undefined, flag: string): bigint | undefined {
  if (v === undefined) return undefined
  if (!/^[1-9][0-9]{0,15}$/.test(v)) throw new UsageError(`${flag} must be a positive integer of µc, got ${JSON.stringify(v)}`)
  return BigInt(v)
}

/** par: one µc per Bpt, i.e. params/1000 µc per 1M tokens (at least 1) */
export function parPricePerMTokUc (params: number): bigint {
  const p = BigInt(Math.round(params)) / 1000n
  return p > 0n ? p : 1n
}

export async function sellPlan (f: ServeFlags, env: Record<string, string | undefined>): Promise<SellPlan | undefined> {
  if (f.serve != null && f.serveHttp != null) throw new UsageError('--serve and --serve-http exclude each other')
  const maxSessions = positiveInt(f.maxSessions, '--max-sessions', 10_000)
  const threads = positiveInt(f.threads, '--threads', 256)
  const priceIn = uc(f.priceIn, '--price-in')
  const priceOut = uc(f.priceOut, '--price-out')
  const risk: SellerRiskPolicy = {}
  const maxUnpaid = amountUc(f.maxUnpaid, '--max-unpaid')
  if (maxUnpaid != null) {
    risk.maxUnpaidPerBuyerUc = maxUnpaid
    // a young account never gets more than a seasoned one
    if (maxUnpaid < DEFAULT_MAX_UNPAID_YOUNG_UC) risk.maxUnpaidYoungUc = maxUnpaid
  }
  const maxUnpaidTotal = amountUc(f.maxUnpaidTotal, '--max-unpaid-total')
  if (maxUnpaidTotal != null) risk.maxUnpaidTotalUc = maxUnpaidTotal
  if (f.refuseCredit === true) risk.serveOnCredit = false
  const grantors = trustedGrantors(f.trustGrantor, env.TALLY_TRUST_GRANTORS)
  if (grantors != null) {
    if (f.refuseCredit === true) throw new UsageError('--trust-grantor and --refuse-credit exclude each other (--refuse-credit serves no credit at all)')
    risk.trustedGrantors = grantors
  }
  const auction = auctionPlan(f)
  let backend: Backend
  if (f.capabilities != null && f.serveHttp == null) throw new UsageError('--capabilities needs --serve-http (the embedded engine\'s capabilities are known: chat, tools, json_schema, …)')
  if (f.serve != null) {
    const modelPath = f.serve === 'tiny' ? ensureTinyModel() : f.serve
    backend = await createEmbeddedBackend({ modelPath, modelId: f.modelId, threads: threads ?? 1, gpu: f.gpu === true ? 'auto' : false, maxConcurrency: maxSessions ?? 1 })
  } else if (f.serveHttp != null) {
    let url: URL
    try { url = new URL(f.serveHttp) } catch { throw new UsageError(`--serve-http must be a URL such as http://127.0.0.1:8000/v1, got ${JSON.stringify(f.serveHttp)}`) }
    if (f.modelId == null) throw new UsageError('--serve-http needs --model-id (the model name the server knows)')
    const params = positiveInt(f.params, '--params', 1e13)
    if (params == null) throw new UsageError('--serve-http needs --params (the model\'s parameter count, for Bpt)')
    const apiKey = f.apiKeyEnv != null ? env[f.apiKeyEnv] : undefined
    if (f.apiKeyEnv != null && (apiKey == null || apiKey === '')) throw new UsageError(`--api-key-env ${f.apiKeyEnv}: that environment variable is empty`)
    backend = createHttpBackend({ baseUrl: url.toString().replace(/\/$/, ''), model: f.modelId, params, apiKey, maxConcurrency: maxSessions ?? 4, capabilities: httpCapabilities(f.capabilities) })
  } else {
    if (f.priceIn != null || f.priceOut != null) throw new UsageError('--price-in/--price-out need --serve or --serve-http')
    if (Object.keys(risk).length > 0) throw new UsageError('--max-unpaid/--max-unpaid-total/--refuse-credit/--trust-grantor need --serve or --serve-http')
    if (Object.keys(auction).length > 0) throw new UsageError('--batch-discount/--idle-discount/--no-auction need --serve or --serve-http')
    return undefined
  }
  const par = parPricePerMTokUc(backend.model.params)
  return { backend, priceInPerMTokUc: priceIn ?? par, priceOutPerMTokUc: priceOut ?? par, maxSessions: maxSessions ?? backend.maxConcurrency, risk, auction }
}
