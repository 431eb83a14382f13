/**
 * Genesis config: the parameters every node of one network agrees on. Its hash is `net`,
 * mixed into every signature, so objects from another network never verify here.
 */
import { createHash } from 'node:crypto'
import { Genesis as GenesisPb } from '../wire/pb/genesis.js'

/** bounds every genesis keeps, whether read from a config file or fetched from a peer */
export const MAX_GENESIS_NAME_CHARS = 64
export const MAX_GENESIS_ISSUERS = 256
/** a network id in text: SHA-256 as 64 lowercase hex characters */
export const NET_HEX_PATTERN = /^[0-9a-f]{64}$/

export interface Issuer {
  publicKey: Uint8Array
  capUc: bigint
}

export interface Genesis {
  name: string
  issuers: Issuer[]
  /** credit limit of every account; above 0 only on a development network */
  defaultCreditLimitUc: bigint
  maxSessionLockUc: bigint
  /** a development network (the only kind with a default credit line); absent = false */
  development?: boolean
  /** smallest transfer (µc); absent or 0 = none */
  minTransferUc?: bigint
}

/**
 * What is wrong with a genesis's credit rules, or undefined: a default credit line lets every
 * fresh key spend that much, so only a development network may have one (protocols/genesis.md).
 */
export function genesisCreditProblem (g: Genesis): string | undefined {
  if (g.defaultCreditLimitUc > 0n && g.development !== true) return `a default credit line (${g.defaultCreditLimitUc} µc) is allowed only on a development network (development: true)`
  return undefined
}

export function encodeGenesis (g: Genesis): Uint8Array {
  const issuers = [...g.issuers].sort((a, b) => Buffer.compare(Buffer.from(a.publicKey), Buffer.from(b.publicKey)))
  return GenesisPb.encode({
    name: g.name,
    issuers: issuers.map(i => ({ publicKey: i.publicKey as Uint8Array<ArrayBuffer>, capUc: i.capUc })),
    defaultCreditLimitUc: g.defaultCreditLimitUc,
    maxSessionLockUc: g.maxSessionLockUc,
    development: g.development ?? false,
    minTransferUc: g.minTransferUc ?? 0n
  })
}

/** net = SHA-256 of the encoded genesis */
export function netId (g: Genesis): Uint8Array {
  return new Uint8Array(createHash('sha256').update(encodeGenesis(g)).digest())
}

/** first 8 hex chars of net, used in topic names (defined with the topics, in the wire layer) */
export { net8 } from '../wire/topics.js'
