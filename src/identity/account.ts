/**
 * Account ids. An account is an ed25519 public key; it is also the node's libp2p PeerId,
 * so its one stable text form is the PeerId string (base58btc identity multihash, "12D3KooW…").
 */
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdFromPublicKey, peerIdFromString } from '@libp2p/peer-id'
import { InvalidAccountIdError } from './errors.js'
import { PUBLIC_KEY_LENGTH } from './ed25519.js'

/** longest account id text accepted from any input */
const MAX_ACCOUNT_ID_CHARS = 128

export function accountIdFromPublicKey (publicKey: Uint8Array): string {
  if (publicKey.length !== PUBLIC_KEY_LENGTH) throw new InvalidAccountIdError(`account public key must be ${PUBLIC_KEY_LENGTH} bytes, got ${publicKey.length}`)
  return peerIdFromPublicKey(publicKeyFromRaw(publicKey) as any).toString()
}

export function publicKeyFromAccountId (accountId: string): Uint8Array {
  if (typeof accountId !== 'string' || accountId.length === 0 || accountId.length > MAX_ACCOUNT_ID_CHARS) {
    throw new InvalidAccountIdError(`account id must be a non-empty string of at most ${MAX_ACCOUNT_ID_CHARS} chars`)
  }
  let raw: Uint8Array | undefined
  try {
    const peerId = peerIdFromString(accountId)
    if (peerId.type === 'Ed25519') raw = peerId.publicKey.raw
  } catch {}
  if (raw == null) throw new InvalidAccountIdError(`not an ed25519 account id: ${JSON.stringify(accountId.slice(0, 64))} (expected a 12D3KooW… peer id)`)
  return raw
}
