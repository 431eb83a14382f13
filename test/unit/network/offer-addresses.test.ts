/**
 * An offer carries only addresses that reach its seller (protocols/market.md § Addresses): one
 * whose target /p2p/ component is another peer is refused when signed and when received, and a
 * node's own addresses are filtered to the ones a stranger can dial.
 */
import { describe, expect, it } from 'vitest'
import { createSigner } from '../../../src/identity/ed25519.js'
import { netId } from '../../../src/ledger/genesis.js'
import { checkOfferAddresses, openOffer, sellerIdOf, signOffer, type OfferTerms } from '../../../src/market/offer.js'
import { Offer as OfferPb } from '../../../src/wire/pb/market.js'
import { sealEnvelope } from '../../../src/wire/envelope.js'
import { Domain } from '../../../src/wire/domains.js'
import { dialableAddrs, isPublicAddr, isRelayAddr } from '../../../src/node/network/addresses.js'

const net = netId({ name: 'unit', issuers: [], defaultCreditLimitUc: 0n, maxSessionLockUc: 1n })
const signer = createSigner(new Uint8Array(32).fill(7))
const other = createSigner(new Uint8Array(32).fill(8))
const seller = sellerIdOf(signer.publicKey)
const stranger = sellerIdOf(other.publicKey)
const NOW = 1_700_000_000_000
const terms: OfferTerms = {
  modelId: 'tiny', fingerprint: 'c'.repeat(64), fingerprintVerified: false, params: 1_000_000n, quantization: '', contextLength: 512,
  priceInPerMTokUc: 1n, priceOutPerMTokUc: 1n, maxSessions: 1, tokensPerSec: 0, region: '', multiaddrs: []
}
const opts = { seq: 1n, expiresAtMs: BigInt(NOW + 60_000) }

describe('offer addresses', () => {
  it('accepts direct, relayed and id-less addresses of the seller', () => {
    const ok = [
      `/ip4/1.2.3.4/tcp/4001/p2p/${seller}`,
      `/ip4/5.6.7.8/tcp/4001/p2p/${stranger}/p2p-circuit/p2p/${seller}`,
      `/ip4/5.6.7.8/tcp/4001/p2p/${stranger}/p2p-circuit`,
      '/ip4/127.0.0.1/tcp/1',
      '/memory/x'
    ]
    expect(() => checkOfferAddresses(ok, seller)).not.toThrow()
    const offer = openOffer(signOffer(signer, net, { ...terms, multiaddrs: ok }, opts).bytes, net, NOW)
    expect(offer.multiaddrs).toEqual(ok)
  })

  it('refuses an address that reaches another peer, directly or through a relay', () => {
    for (const bad of [`/ip4/1.2.3.4/tcp/4001/p2p/${stranger}`, `/ip4/5.6.7.8/tcp/1/p2p/${seller}/p2p-circuit/p2p/${stranger}`, `/dns4/a.example/tcp/1/ipfs/${stranger}`]) {
      expect(() => signOffer(signer, net, { ...terms, multiaddrs: [bad] }, opts), bad).toThrow(expect.objectContaining({ name: 'ForeignAddressError', code: 'foreign-address' }))
      // a hostile seller skips signOffer's check: the receiver refuses the bytes
      const pb = OfferPb.encode({
        modelId: terms.modelId, fingerprint: terms.fingerprint, fingerprintVerified: false, params: terms.params, quantization: '', contextLength: 512,
        priceInPerMtokUc: 1n, priceOutPerMtokUc: 1n, maxSessions: 1, tokensPerSec: 0, region: '', multiaddrs: [bad], capabilities: [], seq: 1n, expiresAtMs: opts.expiresAtMs, withdrawn: false
      } as any)
      const bytes = sealEnvelope(signer, Domain.offer, net, pb).bytes
      expect(() => openOffer(bytes, net, NOW), bad).toThrow(expect.objectContaining({ name: 'ForeignAddressError' }))
    }
  })
})

describe('dialable addresses', () => {
  const id = seller
  const loop = `/ip4/127.0.0.1/tcp/1/p2p/${id}`
  const lan = `/ip4/192.168.1.5/tcp/1/p2p/${id}`
  const pub = `/ip4/1.2.3.4/tcp/1/p2p/${id}`
  const relayed = `/ip4/1.2.3.4/tcp/2/p2p/${stranger}/p2p-circuit/p2p/${id}`

  it('classifies addresses', () => {
    expect(isPublicAddr(pub)).toBe(true)
    expect(isPublicAddr(lan)).toBe(false)
    expect(isPublicAddr(loop)).toBe(false)
    expect(isPublicAddr(relayed)).toBe(false)
    expect(isPublicAddr('/memory/x')).toBe(false)
    expect(isRelayAddr(relayed)).toBe(true)
    expect(isRelayAddr(pub)).toBe(false)
  })

  it('keeps public and relay addresses when the node has any, direct first', () => {
    expect(dialableAddrs([loop, relayed, lan, pub])).toEqual([pub, relayed])
    expect(dialableAddrs([loop, lan, relayed])).toEqual([relayed])
  })

  it('keeps the listen addresses of a node with neither (LAN, one machine, memory)', () => {
    expect(dialableAddrs([loop, lan])).toEqual([loop, lan])
    expect(dialableAddrs(['/memory/a'])).toEqual(['/memory/a'])
  })
})
