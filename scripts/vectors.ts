/**
 * Test vectors for a second implementation of Tally: writes protocols/vectors/*.json (format in
 * protocols/vectors/README.md). Every vector is `{name, inputs, ...outputs}` and its outputs are a
 * pure function of its own inputs, computed here with the package's own encoders and signers;
 * test/unit/wire/vectors.test.ts re-derives every vector with `deriveVector` and also decodes and
 * verifies the stored bytes, so the code and the vectors cannot drift apart.
 *
 * Usage: npx tsx scripts/vectors.ts            (writes protocols/vectors/*.json)
 *        npx tsx scripts/vectors.ts --check    (exits 1 when a stored file differs)
 */
import '../src/polyfill.js'
import { createHash } from 'node:crypto'
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import * as lp from 'it-length-prefixed'
import { createSigner } from '../src/identity/ed25519.js'
import { accountIdFromPublicKey } from '../src/identity/account.js'
import { decodeEnvelope, envelopeId, sealEnvelope, signingInput } from '../src/wire/envelope.js'
import { Domain } from '../src/wire/domains.js'
import { encodeGenesis, netId, net8 } from '../src/ledger/genesis.js'
import { signOffer } from '../src/market/offer.js'
import { signBid } from '../src/market/bid.js'
import { signBidQuote } from '../src/market/bid-quote.js'
import { AuctionFrame } from '../src/wire/pb/auction.js'
import { openAccept, openQuote, signAccept, signContract, signQuote } from '../src/contract/messages.js'
import { NegotiateFrame } from '../src/wire/pb/negotiate.js'
import { makeVoucher } from '../src/exec/voucher.js'
import { amountUc, sessionAmountUc } from '../src/exec/pricing.js'
import { signRecord, type RecordKindInput } from '../src/ledger/record.js'
import { Negentropy, storageFromItems } from '../src/ledger/sync/negentropy.js'
import { FetchRequest } from '../src/wire/pb/sync.js'
import { encodeCloseFrame, encodeRequest, encodeSellerFrame, encodeVoucherFrame } from '../src/exec/infer/codec.js'

/** JSON inputs: bytes as lowercase hex, integers that may exceed 2^53 as decimal strings */
export type Inputs = Record<string, any>
export interface Vector { name: string, kind: string, inputs: Inputs, [output: string]: unknown }
export interface VectorFile { description: string, vectors: Vector[] }

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'))
const big = (s: string | number): bigint => BigInt(s)
const framed = (b: Uint8Array): string => hex(lp.encode.single(b).subarray())

function signerOf (inputs: Inputs): ReturnType<typeof createSigner> {
  return createSigner(unhex(inputs.signer_seed_hex))
}

/** every output of a signed object: what to compare byte for byte */
function sealedOutputs (envelope: Uint8Array, net: Uint8Array): Record<string, string> {
  const pb = decodeEnvelope(envelope)
  return {
    payload_hex: hex(pb.payload),
    signing_input_hex: hex(signingInput(pb.domain, net, pb.payload)),
    id_hex: hex(envelopeId(pb.domain, net, pb.payload)),
    public_key_hex: hex(pb.publicKey),
    signature_hex: hex(pb.signature),
    envelope_hex: hex(envelope)
  }
}

// ---- one derivation per kind: outputs from the vector's own inputs only ----

const derivers: Record<string, (i: Inputs) => Record<string, unknown>> = {
  key (i) {
    const s = createSigner(unhex(i.seed_hex))
    return { public_key_hex: hex(s.publicKey), account: accountIdFromPublicKey(s.publicKey) }
  },

  genesis (i) {
    const g = {
      name: i.name,
      issuers: i.issuers.map((x: Inputs) => ({ publicKey: unhex(x.public_key_hex), capUc: big(x.cap_uc) })),
      defaultCreditLimitUc: big(i.default_credit_limit_uc),
      maxSessionLockUc: big(i.max_session_lock_uc),
      development: i.development === true,
      minTransferUc: big(i.min_transfer_uc ?? '0')
    }
    const net = netId(g)
    const n8 = net8(net)
    return {
      encoding_hex: hex(encodeGenesis(g)),
      net_hex: hex(net),
      net8: n8,
      topics: { offers: `tally/${n8}/offers/1`, bids: `tally/${n8}/bids/1`, records: `tally/${n8}/records/1` }
    }
  },

  envelope (i) {
    const env = sealEnvelope(signerOf(i), i.domain, unhex(i.net_hex), unhex(i.payload_hex))
    return sealedOutputs(env.bytes, unhex(i.net_hex))
  },

  offer (i) {
    const t = i.terms
    const offer = signOffer(signerOf(i), unhex(i.net_hex), {
      modelId: t.model_id,
      fingerprint: t.fingerprint,
      fingerprintVerified: t.fingerprint_verified,
      params: big(t.params),
      quantization: t.quantization,
      contextLength: t.context_length,
      priceInPerMTokUc: big(t.price_in_per_mtok_uc),
      priceOutPerMTokUc: big(t.price_out_per_mtok_uc),
      maxSessions: t.max_sessions,
      tokensPerSec: t.tokens_per_sec,
      region: t.region,
      multiaddrs: t.multiaddrs
    }, { seq: big(i.seq), expiresAtMs: big(i.expires_at_ms), withdrawn: i.withdrawn })
    return sealedOutputs(offer.bytes, unhex(i.net_hex))
  },

  bid (i) {
    const t = i.terms
    const bid = signBid(signerOf(i), unhex(i.net_hex), {
      modelId: t.model_id,
      minParams: big(t.min_params),
      quantizations: t.quantizations,
      maxPriceInPerMTokUc: big(t.max_price_in_per_mtok_uc),
      maxPriceOutPerMTokUc: big(t.max_price_out_per_mtok_uc),
      expectedInputTokens: big(t.expected_input_tokens),
      expectedOutputTokens: big(t.expected_output_tokens),
      // reverse auction fields (market.md § Bid); absent = 0 / empty, encoded as nothing
      deadlineMs: big(t.deadline_ms ?? 0),
      auctionEndsAtMs: big(t.auction_ends_at_ms ?? 0),
      multiaddrs: t.multiaddrs ?? [],
      verifiedOnly: t.verified_only === true
    }, { seq: big(i.seq), expiresAtMs: big(i.expires_at_ms) })
    return sealedOutputs(bid.bytes, unhex(i.net_hex))
  },

  /** auction.md: a seller's BidQuote envelope and the AuctionFrame that carries it */
  'bid-quote' (i) {
    const t = i.terms
    const q = signBidQuote(signerOf(i), unhex(i.net_hex), {
      bidId: unhex(t.bid_id_hex),
      buyer: unhex(t.buyer_hex),
      modelId: t.model_id,
      fingerprint: t.fingerprint,
      fingerprintVerified: t.fingerprint_verified,
      params: big(t.params),
      quantization: t.quantization,
      priceInPerMTokUc: big(t.price_in_per_mtok_uc),
      priceOutPerMTokUc: big(t.price_out_per_mtok_uc),
      maxOutputTokens: big(t.max_output_tokens),
      validUntilMs: big(t.valid_until_ms),
      postedPriceOutPerMTokUc: big(t.posted_price_out_per_mtok_uc),
      multiaddrs: t.multiaddrs,
      quoteId: unhex(t.quote_id_hex)
    })
    const frame = AuctionFrame.encode({ bidQuote: q.bytes as Uint8Array<ArrayBuffer> })
    return { ...sealedOutputs(q.bytes, unhex(i.net_hex)), frame_hex: hex(frame), framed_hex: framed(frame) }
  },

  'auction-ack' (i) {
    const frame = AuctionFrame.encode({ ack: { accepted: i.accepted, code: i.code, message: i.message } })
    return { frame_hex: hex(frame), framed_hex: framed(frame) }
  },

  'quote-request' (i) {
    const frame = NegotiateFrame.encode({
      quoteRequest: {
        modelId: i.model_id,
        expectedInputTokens: big(i.expected_input_tokens),
        expectedOutputTokens: big(i.expected_output_tokens),
        buyer: unhex(i.buyer_hex) as Uint8Array<ArrayBuffer>,
        nonce: unhex(i.nonce_hex) as Uint8Array<ArrayBuffer>,
        maxPriceInPerMtokUc: big(i.max_price_in_per_mtok_uc),
        maxPriceOutPerMtokUc: big(i.max_price_out_per_mtok_uc),
        maxSpendUc: big(i.max_spend_uc ?? 0),
        sessionExpiresAtMs: big(i.session_expires_at_ms ?? 0),
        bidQuote: unhex(i.bid_quote_envelope_hex ?? '') as Uint8Array<ArrayBuffer>
      }
    })
    return { frame_hex: hex(frame), framed_hex: framed(frame) }
  },

  quote (i) {
    const q = signQuote(signerOf(i), unhex(i.net_hex), {
      quoteId: unhex(i.quote_id_hex),
      buyer: unhex(i.buyer_hex),
      requestNonce: unhex(i.request_nonce_hex),
      modelId: i.model_id,
      fingerprint: i.fingerprint,
      fingerprintVerified: i.fingerprint_verified,
      params: big(i.params),
      priceInPerMTokUc: big(i.price_in_per_mtok_uc),
      priceOutPerMTokUc: big(i.price_out_per_mtok_uc),
      validUntilMs: big(i.valid_until_ms),
      secondPeerAboveUc: big(i.second_peer_above_uc),
      maxSpendUc: big(i.max_spend_uc ?? 0),
      sessionExpiresAtMs: big(i.session_expires_at_ms ?? 0),
      openWithinMs: big(i.open_within_ms ?? 0),
      minBuyerSpendableUc: big(i.min_buyer_spendable_uc ?? 0),
      maxUnpaidUc: big(i.max_unpaid_uc ?? 0)
    })
    const frame = NegotiateFrame.encode({ quote: q.bytes as Uint8Array<ArrayBuffer> })
    return { ...sealedOutputs(q.bytes, unhex(i.net_hex)), frame_hex: hex(frame), framed_hex: framed(frame) }
  },

  accept (i) {
    const net = unhex(i.net_hex)
    const a = signAccept(signerOf(i), net, openQuote(unhex(i.quote_envelope_hex), net), big(i.max_spend_uc), big(i.session_expires_at_ms))
    const frame = NegotiateFrame.encode({ accept: a.bytes as Uint8Array<ArrayBuffer> })
    return { ...sealedOutputs(a.bytes, net), frame_hex: hex(frame), framed_hex: framed(frame) }
  },

  contract (i) {
    const net = unhex(i.net_hex)
    const c = signContract(signerOf(i), net, openAccept(unhex(i.accept_envelope_hex), net))
    const frame = NegotiateFrame.encode({ contract: c.bytes as Uint8Array<ArrayBuffer> })
    return { ...sealedOutputs(c.bytes, net), contract_id_hex: hex(c.contractId), frame_hex: hex(frame), framed_hex: framed(frame) }
  },

  refusal (i) {
    const frame = NegotiateFrame.encode({ refusal: { reason: i.reason, message: i.message, retryAfterMs: 0n } })
    return { frame_hex: hex(frame), framed_hex: framed(frame) }
  },

  pricing (i) {
    const terms = { priceInPerMTokUc: big(i.price_in_per_mtok_uc), priceOutPerMTokUc: big(i.price_out_per_mtok_uc), maxSpendUc: big(i.max_spend_uc) }
    return {
      uncapped_uc: amountUc(big(i.input_tokens), big(i.output_tokens), terms.priceInPerMTokUc, terms.priceOutPerMTokUc).toString(),
      amount_uc: sessionAmountUc(big(i.input_tokens), big(i.output_tokens), terms).toString()
    }
  },

  voucher (i) {
    const v = makeVoucher(signerOf(i), unhex(i.net_hex), {
      contractId: unhex(i.contract_id_hex),
      nonce: big(i.nonce),
      inputTokens: big(i.input_tokens),
      outputTokens: big(i.output_tokens),
      amountUc: big(i.amount_uc)
    })
    return sealedOutputs(v.bytes, unhex(i.net_hex))
  },

  record (i) {
    const k = i.record_kind
    let kind: RecordKindInput
    if (k.type === 'transfer') kind = { type: 'transfer', to: unhex(k.to_hex), amountUc: big(k.amount_uc), memo: k.memo, tag: k.tag }
    else if (k.type === 'open') kind = { type: 'open', seller: unhex(k.seller_hex), contractId: unhex(k.contract_id_hex), maxSpendUc: big(k.max_spend_uc), endsAtMs: big(k.ends_at_ms ?? '0') }
    else if (k.type === 'settle') kind = { type: 'settle', openId: unhex(k.open_id_hex), voucher: unhex(k.voucher_hex), amountUc: big(k.amount_uc) }
    else if (k.type === 'credit') kind = { type: 'credit', to: unhex(k.to_hex), amountUc: big(k.amount_uc) }
    else if (k.type === 'release') kind = { type: 'release', openId: unhex(k.open_id_hex) }
    else if (k.type === 'grant') kind = { type: 'grant', to: unhex(k.to_hex), amountUc: big(k.amount_uc) }
    else if (k.type === 'revoke') kind = { type: 'revoke', grantId: unhex(k.grant_id_hex), amountUc: big(k.amount_uc) }
    else kind = { type: 'ack' }
    const net = unhex(i.net_hex)
    const r = signRecord(signerOf(i), { net, seq: big(i.seq), prev: unhex(i.prev_hex), kind, acks: i.acks_hex.map(unhex), memo: i.memo, time: big(i.time) })
    return sealedOutputs(r.bytes, net)
  },

  negentropy (i) {
    const items = (xs: Inputs[]): Array<{ timestamp: bigint, id: Uint8Array }> => xs.map(x => ({ timestamp: big(x.timestamp), id: unhex(x.id_hex) }))
    const client = new Negentropy(storageFromItems(items(i.client_items)), i.frame_size_limit)
    const server = new Negentropy(storageFromItems(items(i.server_items)), i.frame_size_limit)
    const messages: Array<{ from: string, hex: string }> = []
    const have: string[] = []
    const need: string[] = []
    let msg: Uint8Array | null = client.initiate()
    while (msg != null) {
      messages.push({ from: 'initiator', hex: hex(msg) })
      const reply = server.reconcile(msg).output!
      messages.push({ from: 'responder', hex: hex(reply) })
      const r = client.reconcile(reply)
      have.push(...r.haveIds.map(hex))
      need.push(...r.needIds.map(hex))
      msg = r.output
    }
    return { messages, have_ids_hex: [...new Set(have)].sort(), need_ids_hex: [...new Set(need)].sort() }
  },

  fetch (i) {
    const req = FetchRequest.encode({ ids: i.ids_hex.map(unhex), account: i.account, fromSeq: big(i.from_seq), limit: i.limit })
    const count = new Uint8Array(4)
    new DataView(count.buffer).setUint32(0, i.records_hex.length)
    const response = [count, ...i.records_hex.map(unhex)].map(b => framed(b)).join('')
    return { request_hex: hex(req), request_framed_hex: framed(req), response_hex: response }
  },

  'infer-request' (i) {
    const frame = encodeRequest(unhex(i.contract_id_hex), {
      messages: i.messages,
      maxTokens: i.max_tokens,
      temperature: i.temperature,
      topP: i.top_p,
      seed: i.seed,
      stop: i.stop
    }, i.keep_open)
    return { frame_hex: hex(frame), framed_hex: framed(frame) }
  },

  'infer-voucher' (i) {
    const frame = encodeVoucherFrame(unhex(i.voucher_envelope_hex))
    return { frame_hex: hex(frame), framed_hex: framed(frame) }
  },

  'infer-close' (i) {
    const frame = encodeCloseFrame(unhex(i.contract_id_hex))
    return { frame_hex: hex(frame), framed_hex: framed(frame) }
  },

  'infer-seller' (i) {
    const f = i.frame
    const frame = encodeSellerFrame(f.chunk != null
      ? { chunk: { text: f.chunk.text, outputTokens: f.chunk.output_tokens, totalInputTokens: big(f.chunk.total_input_tokens), totalOutputTokens: big(f.chunk.total_output_tokens), amountUc: big(f.chunk.amount_uc), windowUc: f.chunk.window_uc != null ? big(f.chunk.window_uc) : undefined } }
      : f.done != null
        ? {
            done: {
              inputTokens: big(f.done.input_tokens),
              outputTokens: big(f.done.output_tokens),
              totalInputTokens: big(f.done.total_input_tokens),
              totalOutputTokens: big(f.done.total_output_tokens),
              amountUc: big(f.done.amount_uc),
              finishReason: f.done.finish_reason,
              usageSource: f.done.usage_source,
              stopReason: f.done.stop_reason,
              streamOpen: f.done.stream_open
            }
          }
        : { failure: { code: f.failure.code, message: f.failure.message } })
    return { frame_hex: hex(frame), framed_hex: framed(frame) }
  }
}

export function deriveVector (kind: string, inputs: Inputs): Record<string, unknown> {
  const d = derivers[kind]
  if (d == null) throw new Error(`unknown vector kind ${kind}`)
  return d(inputs)
}

function vector (name: string, kind: string, inputs: Inputs): Vector {
  return { name, kind, inputs, ...deriveVector(kind, inputs) }
}

// ---- the fixed inputs ----

const seed = (byte: number): string => Buffer.alloc(32, byte).toString('hex')
export const SEEDS = { buyer: seed(0x01), seller: seed(0x02), issuer: seed(0x03), witness: seed(0x04) } as const
/** 2026-01-01T00:00:00Z: every time in the vectors is fixed, none is read from a clock */
const T0 = 1_767_225_600_000

/** Build every vector file from the fixed inputs above. */
export function buildVectors (): Record<string, VectorFile> {
  const keys = Object.entries(SEEDS).map(([name, s]) => vector(name, 'key', { seed_hex: s }))
  const pk = (name: keyof typeof SEEDS): string => keys.find(k => k.name === name)!.public_key_hex as string

  const genesis = [
    vector('tally-dev (the default network, a development network: field 5 set)', 'genesis', { name: 'tally-dev', issuers: [], default_credit_limit_uc: '10000000', max_session_lock_uc: '5000000', development: true }),
    vector('vectors network: one issuer (development, so it may keep a default credit line)', 'genesis', {
      name: 'tally-vectors',
      issuers: [{ public_key_hex: pk('issuer'), cap_uc: '1000000000000' }],
      default_credit_limit_uc: '10000000',
      max_session_lock_uc: '5000000',
      development: true
    }),
    vector('two issuers listed out of order (sorted by key bytes before encoding)', 'genesis', {
      name: 'tally-two-issuers',
      issuers: [{ public_key_hex: pk('witness'), cap_uc: '5' }, { public_key_hex: pk('issuer'), cap_uc: '3000000000' }],
      default_credit_limit_uc: '0',
      max_session_lock_uc: '0'
    }),
    vector('a public network: no default credit line, a minimum transfer (field 6)', 'genesis', {
      name: 'tally-public',
      issuers: [{ public_key_hex: pk('issuer'), cap_uc: '1000000000000' }],
      default_credit_limit_uc: '0',
      max_session_lock_uc: '5000000',
      min_transfer_uc: '1000'
    })
  ]
  const net = genesis[1].net_hex as string

  const envelope = [
    vector('test domain, short payload', 'envelope', { signer_seed_hex: SEEDS.buyer, domain: Domain.test, net_hex: net, payload_hex: Buffer.from('hello tally').toString('hex') }),
    vector('empty payload (field 2 omitted)', 'envelope', { signer_seed_hex: SEEDS.seller, domain: Domain.test, net_hex: net, payload_hex: '' })
  ]

  const offerTerms = {
    model_id: 'tiny-char-v1',
    fingerprint: 'a'.repeat(64),
    fingerprint_verified: true,
    // in [2^31, 2^32): the varint range a protons writer bug once encoded as nothing
    params: '3000000000',
    quantization: 'Q8_0',
    context_length: 4096,
    price_in_per_mtok_uc: '1000000',
    price_out_per_mtok_uc: '3000000',
    max_sessions: 4,
    tokens_per_sec: 50,
    region: 'eu',
    multiaddrs: ['/ip4/127.0.0.1/tcp/4001']
  }
  const market = [
    vector('offer', 'offer', { signer_seed_hex: SEEDS.seller, net_hex: net, seq: String(T0), expires_at_ms: String(T0 + 120_000), withdrawn: false, terms: offerTerms }),
    vector('withdrawal (only model_id must be valid)', 'offer', {
      signer_seed_hex: SEEDS.seller,
      net_hex: net,
      seq: String(T0 + 1),
      expires_at_ms: String(T0 + 120_000),
      withdrawn: true,
      terms: { ...offerTerms, fingerprint: '', params: '0', quantization: '', context_length: 0, price_in_per_mtok_uc: '0', price_out_per_mtok_uc: '0', max_sessions: 0, tokens_per_sec: 0, region: '', multiaddrs: [] }
    }),
    vector('bid', 'bid', {
      signer_seed_hex: SEEDS.buyer,
      net_hex: net,
      seq: String(T0),
      expires_at_ms: String(T0 + 60_000),
      terms: { model_id: 'tiny-char-v1', min_params: '1000000000', quantizations: ['Q8_0', 'F16'], max_price_in_per_mtok_uc: '2000000', max_price_out_per_mtok_uc: '4000000', expected_input_tokens: '1000', expected_output_tokens: '3000' }
    })
  ]

  const auctionBid = vector('auction bid: a request for quotes (deadline, window, bidder address, verified only)', 'bid', {
    signer_seed_hex: SEEDS.buyer,
    net_hex: net,
    seq: String(T0 + 1),
    expires_at_ms: String(T0 + 60_000),
    terms: {
      model_id: 'tiny-char-v1', min_params: '1000000000', quantizations: ['Q8_0'], max_price_in_per_mtok_uc: '2000000', max_price_out_per_mtok_uc: '4000000',
      expected_input_tokens: '1000000', expected_output_tokens: '5000000',
      deadline_ms: String(T0 + 7_200_000), auction_ends_at_ms: String(T0 + 5_000), multiaddrs: ['/ip4/127.0.0.1/tcp/4002'], verified_only: true
    }
  })
  const auction = [
    auctionBid,
    vector('bid quote answering the auction bid (frame: AuctionFrame{bid_quote})', 'bid-quote', {
      signer_seed_hex: SEEDS.seller,
      net_hex: net,
      terms: {
        bid_id_hex: auctionBid.id_hex,
        buyer_hex: pk('buyer'),
        model_id: 'tiny-char-v1',
        fingerprint: 'a'.repeat(64),
        fingerprint_verified: true,
        params: '3000000000',
        quantization: 'Q8_0',
        price_in_per_mtok_uc: '700000',
        price_out_per_mtok_uc: '1500000',
        max_output_tokens: '720000',
        valid_until_ms: String(T0 + 7_200_000),
        posted_price_out_per_mtok_uc: '3000000',
        multiaddrs: ['/ip4/127.0.0.1/tcp/4001'],
        quote_id_hex: Buffer.alloc(16, 0x30).toString('hex')
      }
    }),
    vector('ack: accepted', 'auction-ack', { accepted: true, code: '', message: '' }),
    vector('ack: refused (the quote does not match its bid)', 'auction-ack', { accepted: false, code: 'bid-quote-mismatch', message: 'output price 5000000 above the bid\'s maximum 4000000' })
  ]

  const requestNonce = Buffer.alloc(16, 0x20).toString('hex')
  const quoteRequest = vector('quote request (frame 1, unsigned)', 'quote-request', {
    model_id: 'tiny-char-v1', expected_input_tokens: '1000', expected_output_tokens: '3000', buyer_hex: pk('buyer'), nonce_hex: requestNonce,
    max_price_in_per_mtok_uc: '1000000', max_price_out_per_mtok_uc: '3000000'
  })
  const quote = vector('quote (frame 2), with the second-peer term', 'quote', {
    signer_seed_hex: SEEDS.seller,
    net_hex: net,
    quote_id_hex: Buffer.alloc(16, 0x10).toString('hex'),
    buyer_hex: pk('buyer'),
    request_nonce_hex: requestNonce,
    model_id: 'tiny-char-v1',
    fingerprint: 'a'.repeat(64),
    fingerprint_verified: true,
    params: '3000000000',
    price_in_per_mtok_uc: '1000000',
    price_out_per_mtok_uc: '3000000',
    valid_until_ms: String(T0 + 10_000),
    second_peer_above_uc: '2000000'
  })
  const accept = vector('accept (frame 3)', 'accept', {
    signer_seed_hex: SEEDS.buyer, net_hex: net, quote_envelope_hex: quote.envelope_hex, max_spend_uc: '1500000', session_expires_at_ms: String(T0 + 3_600_000)
  })
  const contract = vector('contract (frame 4): its id names the session', 'contract', { signer_seed_hex: SEEDS.seller, net_hex: net, accept_envelope_hex: accept.envelope_hex })
  const negotiate = [
    quoteRequest, quote, accept, contract,
    vector('refusal frame', 'refusal', { reason: 'NO_CAPACITY', message: 'all 4 sessions of tiny-char-v1 are taken' }),
    ...termsExchange(),
    // negotiate.md § Auction price: the request carries the seller's BidQuote (auction.json's), the quote its prices
    vector('quote request at an auction price: bid_quote = the seller\'s BidQuote envelope from auction.json', 'quote-request', {
      model_id: 'tiny-char-v1', expected_input_tokens: '0', expected_output_tokens: '2000', buyer_hex: pk('buyer'), nonce_hex: requestNonce,
      max_price_in_per_mtok_uc: '700000', max_price_out_per_mtok_uc: '1500000', max_spend_uc: '3000', session_expires_at_ms: String(T0 + 600_000),
      bid_quote_envelope_hex: auction[1].envelope_hex
    }),
    vector('refusal: the contract would take more than the BidQuote\'s volume left', 'refusal', { reason: 'BID_VOLUME_EXHAUSTED', message: 'this contract would take 2000 output tokens of the bid quote, 1000 are left' })
  ]
  const contractId = contract.contract_id_hex as string
  // a quote stating every term (negotiate.md § Quote terms), the accept that meets them and the contract repeating them
  function termsExchange (): Vector[] {
    const q = vector('quote stating every term: exact lock, clamped session end, open deadline, min spendable, max unpaid', 'quote', {
      signer_seed_hex: SEEDS.seller, net_hex: net, quote_id_hex: Buffer.alloc(16, 0x11).toString('hex'), buyer_hex: pk('buyer'), request_nonce_hex: requestNonce,
      model_id: 'tiny-char-v1', fingerprint: 'a'.repeat(64), fingerprint_verified: true, params: '3000000000', price_in_per_mtok_uc: '1000000', price_out_per_mtok_uc: '3000000',
      valid_until_ms: String(T0 + 10_000), second_peer_above_uc: '2000000', max_spend_uc: '1500000', session_expires_at_ms: String(T0 + 600_000),
      open_within_ms: '5000', min_buyer_spendable_uc: '0', max_unpaid_uc: '1250'
    })
    const a = vector('accept meeting the quote\'s lock and session end', 'accept', {
      signer_seed_hex: SEEDS.buyer, net_hex: net, quote_envelope_hex: q.envelope_hex, max_spend_uc: '1500000', session_expires_at_ms: String(T0 + 600_000)
    })
    const c = vector('contract repeating every quote term', 'contract', { signer_seed_hex: SEEDS.seller, net_hex: net, accept_envelope_hex: a.envelope_hex })
    return [q, a, c]
  }

  // the contract's terms: 1 credit per 1M input tokens, 3 per 1M output tokens, 1.5 credits max
  const terms = { price_in_per_mtok_uc: '1000000', price_out_per_mtok_uc: '3000000', max_spend_uc: '1500000' }
  const pricing = [
    vector('nothing used', 'pricing', { ...terms, input_tokens: '0', output_tokens: '0' }),
    vector('one output token: 3 µc', 'pricing', { ...terms, input_tokens: '0', output_tokens: '1' }),
    vector('exact: 7 in × 1 µc + 5 out × 3 µc = 22 µc', 'pricing', { ...terms, input_tokens: '7', output_tokens: '5' }),
    vector('a fraction of a µc rounds up: (12 × 1 + 40 × 3) / 10^6 → 1 µc', 'pricing', { ...terms, price_in_per_mtok_uc: '1', price_out_per_mtok_uc: '3', input_tokens: '12', output_tokens: '40' }),
    vector('capped at max spend', 'pricing', { ...terms, input_tokens: '1000', output_tokens: '600000' })
  ]
  const voucherOf = (name: string, nonce: number, inTok: string, outTok: string): Vector => {
    const amount = (deriveVector('pricing', { ...terms, input_tokens: inTok, output_tokens: outTok }) as { amount_uc: string }).amount_uc
    return vector(name, 'voucher', { signer_seed_hex: SEEDS.buyer, net_hex: net, contract_id_hex: contractId, nonce: String(nonce), input_tokens: inTok, output_tokens: outTok, amount_uc: amount })
  }
  const vouchers = [
    voucherOf('first chunk: 4 output tokens, no input yet (chunk totals carry earlier requests\' input only)', 1, '0', '4'),
    voucherOf('second chunk: 9 output tokens', 2, '0', '9'),
    voucherOf('final voucher of the request: 25 input tokens billed with done', 3, '25', '9')
  ]
  const finalVoucher = vouchers[2]

  // a coherent ledger: the issuer credits the buyer, the buyer pays the seller, opens the
  // contract's session, the seller settles it, the buyer acks the settle; a second open released
  // by its seller; a third open with an end, released by its buyer after end + grace
  const rec = (name: string, who: keyof typeof SEEDS, seq: number, prev: string, recordKind: Inputs, acks: string[] = [], memo = '', time = T0 + seq * 1000): Vector =>
    vector(name, 'record', { signer_seed_hex: SEEDS[who], net_hex: net, seq: String(seq), prev_hex: prev, record_kind: recordKind, acks_hex: acks, memo, time: String(time) })
  const r1 = rec('credit: issuer seq 1 extends 10 credits to the buyer', 'issuer', 1, '', { type: 'credit', to_hex: pk('buyer'), amount_uc: '10000000' })
  const r2 = rec('transfer: buyer seq 1 acks the credit, pays the seller 0.25 credits', 'buyer', 1, '', { type: 'transfer', to_hex: pk('seller'), amount_uc: '250000', memo: 'thanks', tag: 'demo' }, [r1.id_hex as string])
  const r3 = rec('open: buyer seq 2 locks the contract\'s max spend', 'buyer', 2, r2.id_hex as string, { type: 'open', seller_hex: pk('seller'), contract_id_hex: contractId, max_spend_uc: '1500000' })
  const r4 = rec('settle: seller seq 1 settles the open with the final voucher, acks the transfer', 'seller', 1, '', { type: 'settle', open_id_hex: r3.id_hex, voucher_hex: finalVoucher.envelope_hex, amount_uc: finalVoucher.inputs.amount_uc }, [r2.id_hex as string])
  const r5 = rec('ack-only: buyer seq 3 acks the settle (its lock is released)', 'buyer', 3, r3.id_hex as string, { type: 'ack' }, [r4.id_hex as string], 'ack')
  const r6 = rec('open: buyer seq 4, a session never used', 'buyer', 4, r5.id_hex as string, { type: 'open', seller_hex: pk('seller'), contract_id_hex: Buffer.alloc(32, 0x33).toString('hex'), max_spend_uc: '1000' })
  const r7 = rec('settle without voucher: seller seq 2 releases the lock, amount 0', 'seller', 2, r4.id_hex as string, { type: 'settle', open_id_hex: r6.id_hex, voucher_hex: '', amount_uc: '0' })
  const r8 = rec('open with an end: buyer seq 5, the contract ends at T0 + 6 s (field 4)', 'buyer', 5, r6.id_hex as string, { type: 'open', seller_hex: pk('seller'), contract_id_hex: Buffer.alloc(32, 0x44).toString('hex'), max_spend_uc: '2000', ends_at_ms: String(T0 + 6000) })
  const r9 = rec('release: buyer seq 6, dated end + 5 min grace, ends the unsettled lock', 'buyer', 6, r8.id_hex as string, { type: 'release', open_id_hex: r8.id_hex }, [], '', T0 + 6000 + 300_000)
  // an explicit credit line: the seller grants the witness 1,000 µc from its earnings, the
  // witness acks it, the seller revokes 400, the witness acks the revoke, the seller acks that
  // ack (the 400 come back): the seller still bears 600, the witness holds a 600 line
  const r10 = rec('grant: seller seq 3 extends the witness a 1,000 µc line (field 13)', 'seller', 3, r7.id_hex as string, { type: 'grant', to_hex: pk('witness'), amount_uc: '1000' })
  const r11 = rec('ack-only: witness seq 1 acks the grant (its line)', 'witness', 1, '', { type: 'ack' }, [r10.id_hex as string])
  const r12 = rec('revoke: seller seq 4 takes back 400 µc of the grant (field 14)', 'seller', 4, r10.id_hex as string, { type: 'revoke', grant_id_hex: r10.id_hex, amount_uc: '400' })
  const r13 = rec('ack-only: witness seq 2 acks the revoke (its line is 600)', 'witness', 2, r11.id_hex as string, { type: 'ack' }, [r12.id_hex as string])
  const r14 = rec('ack-only: seller seq 5 acks the witness\'s revoke-ack (the 400 come back)', 'seller', 5, r12.id_hex as string, { type: 'ack' }, [r13.id_hex as string])
  const ledger = [r1, r2, r3, r4, r5, r6, r7, r8, r9, r10, r11, r12, r13, r14]

  const id = (label: string): string => hex(labelId(label))
  const item = (ts: number, label: string): Inputs => ({ timestamp: String(ts), id_hex: id(label) })
  // the reference js/Negentropy.js encodes varints with 32-bit shifts, so it agrees with this
  // implementation only for timestamps below 2^32; ledger record times (unix ms) are above it
  const shared = Array.from({ length: 36 }, (_, k) => item(100 + k, `shared-${k}`))
  const negentropy = [
    vector('small sets: ids sent as IdList', 'negentropy', {
      frame_size_limit: 0,
      client_items: [item(1, 'a'), item(2, 'b'), item(3, 'c')],
      server_items: [item(1, 'a'), item(3, 'c'), item(4, 'd')]
    }),
    vector('36 shared items, 2 only at the initiator, 3 only at the responder: fingerprints, then ids', 'negentropy', {
      frame_size_limit: 0,
      client_items: [...shared, item(105, 'client-only-1'), item(140, 'client-only-2')],
      server_items: [...shared, item(107, 'server-only-1'), item(120, 'server-only-2'), item(141, 'server-only-3')]
    }),
    vector('record times in unix ms (timestamps above 2^32, full u64 varints)', 'negentropy', {
      frame_size_limit: 0,
      client_items: [item(T0, 'a'), item(T0 + 1, 'b'), item(T0 + 2, 'c')],
      server_items: [item(T0, 'a'), item(T0 + 2, 'c'), item(T0 + 3, 'd')]
    })
  ]

  const fetch = [
    vector('fetch by ids: two known ids', 'fetch', { ids_hex: [r1.id_hex, r3.id_hex], account: '', from_seq: '0', limit: 0, records_hex: [r1.envelope_hex, r3.envelope_hex] }),
    vector('fetch an account chain from seq 2', 'fetch', { ids_hex: [], account: keys[0].account, from_seq: '2', limit: 64, records_hex: [r3.envelope_hex, r5.envelope_hex, r6.envelope_hex] }),
    vector('fetch by ids: nothing known', 'fetch', { ids_hex: [Buffer.alloc(32, 0xee).toString('hex')], account: '', from_seq: '0', limit: 0, records_hex: [] })
  ]

  const infer = [
    vector('request (first buyer frame)', 'infer-request', {
      contract_id_hex: contractId, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Say hi.' }], max_tokens: 16, temperature: 0.5, top_p: 1, seed: 7, stop: ['\n\n']
    }),
    vector('chunk', 'infer-seller', { frame: { chunk: { text: 'Hi th', output_tokens: 4, total_input_tokens: '0', total_output_tokens: '4', amount_uc: '12' } } }),
    vector('voucher frame (answers the chunk)', 'infer-voucher', { voucher_envelope_hex: vouchers[0].envelope_hex }),
    vector('done', 'infer-seller', {
      frame: { done: { input_tokens: '25', output_tokens: '9', total_input_tokens: '25', total_output_tokens: '9', amount_uc: finalVoucher.inputs.amount_uc, finish_reason: 'stop', usage_source: 'tokenized', stop_reason: '' } }
    }),
    vector('close (only frame of its stream)', 'infer-close', { contract_id_hex: contractId }),
    vector('answer to a close: done with finish_reason closed, the highest voucher\'s totals', 'infer-seller', {
      frame: { done: { input_tokens: '0', output_tokens: '0', total_input_tokens: '25', total_output_tokens: '9', amount_uc: finalVoucher.inputs.amount_uc, finish_reason: 'closed', usage_source: '', stop_reason: '' } }
    }),
    vector('failure', 'infer-seller', { frame: { failure: { code: 'busy', message: 'a request is already running on this session' } } }),
    // stream reuse and the paid-ahead window (infer.md § Stream reuse, Flow 4-5)
    vector('request asking to keep the stream (keep_open)', 'infer-request', {
      contract_id_hex: contractId, messages: [{ role: 'user', content: 'Say hi.' }], max_tokens: 16, keep_open: true
    }),
    vector('chunk under a paid-ahead window (window_uc: the buyer signs at half of it)', 'infer-seller', { frame: { chunk: { text: 'Hi th', output_tokens: 4, total_input_tokens: '0', total_output_tokens: '4', amount_uc: '12', window_uc: '1250' } } }),
    vector('empty chunk: the seller asks for the voucher it waits on', 'infer-seller', { frame: { chunk: { text: '', output_tokens: 0, total_input_tokens: '0', total_output_tokens: '4', amount_uc: '12', window_uc: '20' } } }),
    vector('done keeping the stream for the next request (stream_open)', 'infer-seller', {
      frame: { done: { input_tokens: '25', output_tokens: '9', total_input_tokens: '25', total_output_tokens: '9', amount_uc: finalVoucher.inputs.amount_uc, finish_reason: 'stop', usage_source: 'tokenized', stop_reason: '', stream_open: true } }
    })
  ]

  const file = (description: string, vectors: Vector[]): VectorFile => ({ description, vectors })
  return {
    'keys.json': file('Test keys: Ed25519 seeds (RFC 8032 private keys), public keys and account ids (libp2p PeerId text).', keys),
    'genesis.json': file('Genesis encoding (issuers sorted by public key bytes) → net = SHA-256(encoding), net8 and topic names.', genesis),
    'envelope.json': file('Signed envelopes: signing input = u8 len(domain) ‖ domain ‖ net ‖ payload; id = SHA-256(signing input).', envelope),
    'market.json': file('Offer, withdrawal and bid envelopes (gossip payloads).', market),
    'auction.json': file('/tally/auction/1.0.0 (auction.md): an auction bid, the BidQuote answering it, and both Acks. framed_hex = unsigned-varint length prefix ‖ frame.', auction),
    'negotiate.json': file('/tally/negotiate/1.0.0: the four frames of one exchange and a refusal. framed_hex = unsigned-varint length prefix ‖ frame.', negotiate),
    'voucher.json': file('Pricing rule amounts and the buyer\'s cumulative vouchers for the contract in negotiate.json.', [...pricing, ...vouchers]),
    'ledger.json': file('One record of every kind, forming valid chains on the vectors network (apply in order).', ledger),
    'negentropy.json': file('Negentropy v1 transcripts between two fixed item sets (initiator = client_items).', negentropy),
    'fetch.json': file('/tally/fetch/1.0.0 request and response bytes (every frame unsigned-varint length-prefixed).', fetch),
    'infer.json': file('/tally/infer/1.0.0 frames for the contract in negotiate.json.', infer)
  }
}

/** a fixed 32-byte id: SHA-256 of a label */
function labelId (label: string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(`tally-vector/${label}`).digest())
}

const here = dirname(fileURLToPath(import.meta.url))
export const VECTORS_DIR = join(here, '..', 'protocols', 'vectors')

export function serialize (f: VectorFile): string {
  return JSON.stringify(f, null, 2) + '\n'
}

if (process.argv[1] != null && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const check = process.argv.includes('--check')
  mkdirSync(VECTORS_DIR, { recursive: true })
  let stale = 0
  for (const [name, f] of Object.entries(buildVectors())) {
    const path = join(VECTORS_DIR, name)
    const text = serialize(f)
    if (check) {
      let old = ''
      try { old = readFileSync(path, 'utf8') } catch {}
      if (old !== text) { stale++; process.stderr.write(`${name} is stale\n`) }
    } else {
      writeFileSync(path, text)
      process.stdout.write(`${path}: ${f.vectors.length} vectors\n`)
    }
  }
  if (stale > 0) process.exit(1)
}
