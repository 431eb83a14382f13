/**
 * Envelope throughput: seal (sign) and open (decode + verify) per second on the native and the
 * portable ed25519 paths, and raw verify per second on each. Prints figures; never fails on time.
 */
import '../../src/polyfill.js'
import { createSigner, verify, type Ed25519Path } from '../../src/identity/ed25519.js'
import { sealEnvelope, openEnvelope } from '../../src/wire/envelope.js'
import { Domain } from '../../src/wire/domains.js'

/** long enough to smooth out JIT warm-up and GC on a 2-core box, short enough for CI */
const RUN_MS = 1000
/** a typical offer or ledger record is a few hundred bytes */
const PAYLOAD_BYTES = 256

function perSecond (fn: () => void): number {
  for (let i = 0; i < 20; i++) fn()
  let n = 0
  const t0 = performance.now()
  let elapsed = 0
  while (elapsed < RUN_MS) {
    for (let i = 0; i < 10; i++) fn()
    n += 10
    elapsed = performance.now() - t0
  }
  return Math.round(n / (elapsed / 1000))
}

export default async function (): Promise<Record<string, unknown>> {
  const net = new Uint8Array(32).fill(3)
  const payload = new Uint8Array(PAYLOAD_BYTES).fill(0x5a)
  const out: Record<string, unknown> = { payloadBytes: PAYLOAD_BYTES, runMs: RUN_MS }
  for (const path of ['native', 'portable'] as Ed25519Path[]) {
    const signer = createSigner(new Uint8Array(32).fill(9), path)
    const env = sealEnvelope(signer, Domain.record, net, payload)
    out[`seal_per_s_${path}`] = perSecond(() => { sealEnvelope(signer, Domain.record, net, payload) })
    out[`open_per_s_${path}`] = perSecond(() => { openEnvelope(env.bytes, { domain: Domain.record, net, path }) })
    const msg = new Uint8Array(64).fill(1)
    const sig = signer.sign(msg)
    out[`verify_per_s_${path}`] = perSecond(() => { verify(sig, msg, signer.publicKey, path) })
  }
  return out
}
