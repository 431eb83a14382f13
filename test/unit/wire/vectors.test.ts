/**
 * protocols/vectors/*.json against the code, both ways: every vector is re-derived from its
 * inputs with the package's encoders and signers (bytes, ids, signatures must be identical), and
 * every stored byte string is decoded and verified by the package's decoders, which must give the
 * inputs back. A change of encoding, id or signature rule fails here until the vectors are
 * regenerated (npx tsx scripts/vectors.ts) and the spec moves with them.
 */
import { createHash } from 'node:crypto'
import { readFileSync, readdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { buildVectors, deriveVector, serialize, SEEDS, VECTORS_DIR, type Vector, type VectorFile } from '../../../scripts/vectors.js'
import { createSigner, verify } from '../../../src/identity/ed25519.js'
import { publicKeyFromAccountId } from '../../../src/identity/account.js'
import { decodeEnvelope, envelopeId, openEnvelope, sealEnvelope } from '../../../src/wire/envelope.js'
import { Domain } from '../../../src/wire/domains.js'
import { Genesis as GenesisPb } from '../../../src/wire/pb/genesis.js'
import { Contract as ContractPb, NegotiateFrame } from '../../../src/wire/pb/negotiate.js'
import { FetchRequest } from '../../../src/wire/pb/sync.js'
import { DEV_GENESIS } from '../../../src/node/defaults.js'
import { netId } from '../../../src/ledger/genesis.js'
import { openOffer } from '../../../src/market/offer.js'
import { openBid } from '../../../src/market/bid.js'
import { openAccept, openQuote, verifyContract } from '../../../src/contract/messages.js'
import { ContractMismatchError } from '../../../src/contract/errors.js'
import { checkVoucher, openVoucher, type VoucherFields } from '../../../src/exec/voucher.js'
import { Ledger } from '../../../src/ledger/ledger.js'
import { parseRecord } from '../../../src/ledger/record.js'
import { Negentropy, storageFromItems } from '../../../src/ledger/sync/negentropy.js'
import { decodeBuyerFrame, decodeSellerFrame, parseRequest } from '../../../src/exec/infer/codec.js'

const files = Object.fromEntries(readdirSync(VECTORS_DIR).filter(f => f.endsWith('.json')).map(f => [f, JSON.parse(readFileSync(join(VECTORS_DIR, f), 'utf8')) as VectorFile]))
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'))
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const T0 = 1_767_225_600_000
const byName = (file: string, name: string): Vector => {
  const v = files[file].vectors.find(x => x.name.startsWith(name))
  if (v == null) throw new Error(`no vector ${name} in ${file}`)
  return v
}
const net = (): Uint8Array => unhex(files['genesis.json'].vectors[1].net_hex as string)

/** the unsigned-varint length-prefixed frames of a byte string, in order (decoded here by hand) */
function splitFrames (bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = []
  let pos = 0
  while (pos < bytes.length) {
    let len = 0
    let shift = 0
    while (true) {
      const b = bytes[pos++]
      len += (b & 0x7f) * 2 ** shift
      shift += 7
      if ((b & 0x80) === 0) break
    }
    out.push(bytes.subarray(pos, pos + len))
    pos += len
  }
  return out
}

describe('protocol test vectors (protocols/vectors)', () => {
  it('the stored files are exactly what scripts/vectors.ts generates', () => {
    const built = buildVectors()
    expect(Object.keys(files).sort()).toEqual(Object.keys(built).sort())
    for (const [name, f] of Object.entries(built)) expect(serialize(files[name]), name).toBe(serialize(f))
  })

  it('every vector re-derives from its own inputs', () => {
    let n = 0
    for (const [file, f] of Object.entries(files)) {
      for (const v of f.vectors) {
        const { name, kind, inputs, ...outputs } = v
        expect(deriveVector(kind, inputs), `${file}: ${name}`).toEqual(outputs)
        n++
      }
    }
    expect(n).toBeGreaterThanOrEqual(40)
  })

  it('keys: seeds give the stored public keys and account ids, which parse back', () => {
    for (const k of files['keys.json'].vectors) {
      expect(hex(createSigner(unhex(k.inputs.seed_hex)).publicKey)).toBe(k.public_key_hex)
      expect(hex(publicKeyFromAccountId(k.account as string))).toBe(k.public_key_hex)
    }
    expect(files['keys.json'].vectors.map(k => k.inputs.seed_hex)).toEqual(Object.values(SEEDS))
  })

  it('genesis: the encoding decodes to the inputs (issuers sorted), net = SHA-256 of it; tally-dev is the default network', () => {
    for (const g of files['genesis.json'].vectors) {
      const enc = unhex(g.encoding_hex as string)
      expect(sha256(enc)).toBe(g.net_hex)
      expect((g.net_hex as string).slice(0, 8)).toBe(g.net8)
      const pb = GenesisPb.decode(enc)
      expect(pb.name).toBe(g.inputs.name)
      const sorted = [...g.inputs.issuers].sort((a: any, b: any) => a.public_key_hex < b.public_key_hex ? -1 : 1)
      expect(pb.issuers.map(i => ({ public_key_hex: hex(i.publicKey), cap_uc: i.capUc.toString() }))).toEqual(sorted)
      expect(pb.defaultCreditLimitUc.toString()).toBe(g.inputs.default_credit_limit_uc)
      expect(pb.maxSessionLockUc.toString()).toBe(g.inputs.max_session_lock_uc)
      expect(pb.development).toBe(g.inputs.development === true)
      expect(pb.minTransferUc.toString()).toBe(g.inputs.min_transfer_uc ?? '0')
    }
    expect(hex(netId(DEV_GENESIS))).toBe(files['genesis.json'].vectors[0].net_hex)
  })

  it('envelopes and every signed object: canonical bytes, signature over the signing input, id = SHA-256 of it', () => {
    let signed = 0
    for (const f of Object.values(files)) {
      for (const v of f.vectors) {
        if (v.envelope_hex == null) continue
        const bytes = unhex(v.envelope_hex as string)
        const pb = decodeEnvelope(bytes) // refuses non-canonical encodings
        const input = unhex(v.signing_input_hex as string)
        expect(input[0]).toBe(Buffer.byteLength(pb.domain))
        expect(hex(input.subarray(1 + input[0], 33 + input[0]))).toBe(v.inputs.net_hex)
        expect(hex(input.subarray(33 + input[0]))).toBe(v.payload_hex)
        expect(sha256(input)).toBe(v.id_hex)
        expect(hex(pb.signature)).toBe(v.signature_hex)
        for (const path of ['native', 'portable'] as const) expect(verify(pb.signature, input, pb.publicKey, path)).toBe(true)
        const opened = openEnvelope(bytes, { domain: pb.domain, net: unhex(v.inputs.net_hex) })
        expect(hex(opened.id)).toBe(v.id_hex)
        expect(hex(opened.publicKey)).toBe(hex(createSigner(unhex(v.inputs.signer_seed_hex)).publicKey))
        // on another network the same bytes do not verify
        expect(() => openEnvelope(bytes, { domain: pb.domain, net: new Uint8Array(32) })).toThrow()
        signed++
      }
    }
    expect(signed).toBeGreaterThanOrEqual(18)
  })

  it('offer, withdrawal and bid decode to their inputs', () => {
    const offerV = byName('market.json', 'offer')
    const o = openOffer(unhex(offerV.envelope_hex as string), net(), T0)
    expect({ model_id: o.modelId, params: o.params.toString(), price_out: o.priceOutPerMTokUc.toString(), multiaddrs: o.multiaddrs, seq: o.seq.toString() })
      .toEqual({ model_id: offerV.inputs.terms.model_id, params: '3000000000', price_out: offerV.inputs.terms.price_out_per_mtok_uc, multiaddrs: offerV.inputs.terms.multiaddrs, seq: offerV.inputs.seq })
    expect(openOffer(unhex(byName('market.json', 'withdrawal').envelope_hex as string), net(), T0).withdrawn).toBe(true)
    const b = openBid(unhex(byName('market.json', 'bid').envelope_hex as string), net(), T0)
    expect(b.quantizations).toEqual(['Q8_0', 'F16'])
  })

  it('negotiation: quote, accept and contract verify; the contract carries the quote\'s terms and its id', () => {
    const q = openQuote(unhex(byName('negotiate.json', 'quote (frame 2').envelope_hex as string), net())
    expect(q.secondPeerAboveUc).toBe(2_000_000n)
    expect(q.params).toBe(3_000_000_000n)
    const a = openAccept(unhex(byName('negotiate.json', 'accept').envelope_hex as string), net())
    expect(a.maxSpendUc).toBe(1_500_000n)
    const cv = byName('negotiate.json', 'contract')
    const c = verifyContract(unhex(cv.envelope_hex as string), net())
    expect(hex(c.contractId)).toBe(cv.id_hex)
    expect(hex(c.contractId)).toBe(cv.contract_id_hex)
    expect(c.secondPeerAboveUc).toBe(2_000_000n)
    expect(hex(c.acceptId)).toBe(byName('negotiate.json', 'accept').id_hex)
    for (const name of ['quote request', 'quote (', 'accept', 'contract', 'refusal']) {
      const v = byName('negotiate.json', name)
      const frame = NegotiateFrame.decode(unhex(v.frame_hex as string))
      expect([frame.quoteRequest, frame.quote, frame.accept, frame.contract, frame.refusal].filter(x => x != null)).toHaveLength(1)
      expect(splitFrames(unhex(v.framed_hex as string)).map(hex)).toEqual([v.frame_hex])
    }
  })

  it('a contract whose second-peer term differs from its quote\'s is refused', () => {
    const seller = createSigner(unhex(SEEDS.seller))
    const stored = decodeEnvelope(unhex(byName('negotiate.json', 'contract').envelope_hex as string))
    const pb = ContractPb.decode(stored.payload)
    const forged = sealEnvelope(seller, Domain.contract, net(), ContractPb.encode({ ...pb, secondPeerAboveUc: 0n }))
    expect(() => verifyContract(forged.bytes, net())).toThrow(ContractMismatchError)
  })

  it('pricing amounts follow the rule; vouchers verify against the contract and supersede each other', () => {
    for (const v of files['voucher.json'].vectors.filter(x => x.kind === 'pricing')) {
      const i = v.inputs
      const micro = BigInt(i.input_tokens) * BigInt(i.price_in_per_mtok_uc) + BigInt(i.output_tokens) * BigInt(i.price_out_per_mtok_uc)
      const ceil = (micro + 999_999n) / 1_000_000n
      expect(v.uncapped_uc).toBe(ceil.toString())
      expect(v.amount_uc).toBe((ceil < BigInt(i.max_spend_uc) ? ceil : BigInt(i.max_spend_uc)).toString())
    }
    const c = verifyContract(unhex(byName('negotiate.json', 'contract').envelope_hex as string), net())
    let previous: VoucherFields | undefined
    for (const v of files['voucher.json'].vectors.filter(x => x.kind === 'voucher')) {
      const sv = openVoucher(unhex(v.envelope_hex as string), net())
      checkVoucher(sv, c, previous)
      expect(hex(sv.contractId)).toBe(hex(c.contractId))
      previous = sv
    }
  })

  it('ledger: every record parses, and applied in any order the chains are valid with the balances the spec gives', () => {
    const g = files['genesis.json'].vectors[1].inputs
    const genesis = { name: g.name, issuers: g.issuers.map((x: any) => ({ publicKey: unhex(x.public_key_hex), capUc: BigInt(x.cap_uc) })), defaultCreditLimitUc: BigInt(g.default_credit_limit_uc), maxSessionLockUc: BigInt(g.max_session_lock_uc), development: g.development === true, minTransferUc: BigInt(g.min_transfer_uc ?? '0') }
    const records = files['ledger.json'].vectors
    for (const r of records) {
      const p = parseRecord(unhex(r.envelope_hex as string), { net: net() })
      expect(p.id).toBe(r.id_hex)
      expect(p.kind.type).toBe(r.inputs.record_kind.type)
      expect(p.seq.toString()).toBe(r.inputs.seq)
    }
    const ledger = new Ledger({ genesis })
    for (const r of [...records].reverse()) ledger.add(unhex(r.envelope_hex as string))
    for (const r of records) expect(ledger.has(r.id_hex as string), r.name).toBe(true)
    const settled = BigInt(byName('voucher.json', 'final voucher').inputs.amount_uc)
    const key = (name: string): string => files['keys.json'].vectors.find(k => k.name === name)!.public_key_hex as string
    expect(ledger.balance(key('buyer')).balanceUc).toBe(10_000_000n - 250_000n - settled)
    expect(ledger.balance(key('buyer')).lockedUc).toBe(0n)
    expect(ledger.balance(key('seller')).balanceUc).toBe(250_000n + settled)
    expect(ledger.balance(key('issuer')).balanceUc).toBe(-10_000_000n)
    expect(ledger.grants(key('seller')).grantedUc).toBe(600n)
    expect(ledger.grants(key('witness')).linesUc).toBe(600n)
  })

  it('negentropy: replaying each transcript gives the same replies, also from the reference implementation', async () => {
    const require = createRequire(import.meta.url)
    const ref = require('../../fixtures/negentropy/Negentropy.cjs')
    let refChecked = 0
    for (const v of files['negentropy.json'].vectors) {
      const items = (xs: any[]): Array<{ timestamp: bigint, id: Uint8Array }> => xs.map(x => ({ timestamp: BigInt(x.timestamp), id: unhex(x.id_hex) }))
      const msgs = v.messages as Array<{ from: string, hex: string }>
      const server = new Negentropy(storageFromItems(items(v.inputs.server_items)), v.inputs.frame_size_limit)
      // the reference encodes varints with 32-bit shifts: it is an oracle only below 2^32
      const refUsable = [...v.inputs.client_items, ...v.inputs.server_items].every((x: any) => BigInt(x.timestamp) < 2n ** 32n)
      const s = new ref.NegentropyStorageVector()
      for (const it of v.inputs.server_items) s.insert(Number(it.timestamp), unhex(it.id_hex))
      s.seal()
      refChecked += refUsable ? 1 : 0
      const refServer = new ref.Negentropy(s, v.inputs.frame_size_limit)
      refServer.wantUint8ArrayOutput = true
      for (let k = 0; k < msgs.length; k += 2) {
        expect(msgs[k].from).toBe('initiator')
        expect(hex(server.reconcile(unhex(msgs[k].hex)).output!)).toBe(msgs[k + 1].hex)
        if (!refUsable) continue
        const [refOut] = await refServer.reconcile(unhex(msgs[k].hex))
        expect(hex(refOut)).toBe(msgs[k + 1].hex)
      }
      // the ids each side lacks are exactly the set differences
      const c = new Set(v.inputs.client_items.map((x: any) => x.id_hex))
      const sv = new Set(v.inputs.server_items.map((x: any) => x.id_hex))
      expect(v.have_ids_hex).toEqual([...c].filter(x => !sv.has(x)).sort())
      expect(v.need_ids_hex).toEqual([...sv].filter(x => !c.has(x)).sort())
    }
    expect(refChecked).toBeGreaterThanOrEqual(2)
  })

  it('fetch: the request decodes; the response is a length-prefixed 4-byte count then one length-prefixed frame per record', () => {
    for (const v of files['fetch.json'].vectors) {
      const req = FetchRequest.decode(unhex(v.request_hex as string))
      expect(req.ids.map(hex)).toEqual(v.inputs.ids_hex)
      expect(req.account).toBe(v.inputs.account)
      expect(splitFrames(unhex(v.request_framed_hex as string)).map(hex)).toEqual([v.request_hex])
      const parts = splitFrames(unhex(v.response_hex as string))
      expect(parts[0]).toHaveLength(4)
      expect(new DataView(parts[0].buffer, parts[0].byteOffset, 4).getUint32(0)).toBe(v.inputs.records_hex.length)
      expect(parts.slice(1).map(hex)).toEqual(v.inputs.records_hex)
    }
  })

  it('infer frames decode with the codec; the close answer says closed', () => {
    const reqV = byName('infer.json', 'request')
    const { contractId, request } = parseRequest(decodeBuyerFrame(unhex(reqV.frame_hex as string), true).request!)
    expect(hex(contractId)).toBe(reqV.inputs.contract_id_hex)
    expect(request.messages).toEqual(reqV.inputs.messages)
    expect(decodeBuyerFrame(unhex(byName('infer.json', 'voucher frame').frame_hex as string), false).voucher).toBeDefined()
    expect(hex(decodeBuyerFrame(unhex(byName('infer.json', 'close').frame_hex as string), true).close!.contractId)).toBe(reqV.inputs.contract_id_hex)
    expect(decodeSellerFrame(unhex(byName('infer.json', 'answer to a close').frame_hex as string)).done!.finishReason).toBe('closed')
    expect(decodeSellerFrame(unhex(byName('infer.json', 'failure').frame_hex as string)).failure!.code).toBe('busy')
    expect(hex(envelopeId(Domain.voucher, net(), decodeEnvelope(unhex(byName('voucher.json', 'first chunk').envelope_hex as string)).payload))).toBe(byName('voucher.json', 'first chunk').id_hex)
  })
})
