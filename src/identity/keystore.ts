/**
 * The node's identity file, `<dataDir>/identity.json`: one ed25519 seed, stored plain (mode 0600)
 * or sealed with a passphrase (scrypt → XChaCha20-Poly1305). It owns creating, checking and
 * loading that file; the key it holds is the node's PeerId and its ledger account.
 */
import { chmod, link, mkdir, open, readFile, stat, unlink } from 'node:fs/promises'
import { randomBytes as nodeRandomBytes } from 'node:crypto'
import { join } from 'node:path'
import { scryptAsync } from '@noble/hashes/scrypt.js'
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js'
import { SEED_LENGTH, createSigner, publicKeyFromSeed, type Ed25519Signer } from './ed25519.js'
import { accountIdFromPublicKey } from './account.js'
import { KeystoreExistsError, KeystoreFormatError, KeystoreNotFoundError, KeystorePassphraseError, KeystorePermissionError } from './errors.js'

export const KEYSTORE_FILE = 'identity.json'
export const KEYSTORE_VERSION = 1
/** scrypt cost for new files: 2^15 × r 8 is 32 MiB and well under a second in pure JS */
export const DEFAULT_SCRYPT_N = 2 ** 15
export const DEFAULT_SCRYPT_R = 8
export const DEFAULT_SCRYPT_P = 1
/** bounds on scrypt parameters read from a file, so a hostile file cannot ask for gigabytes */
const MIN_SCRYPT_LOG_N = 10
const MAX_SCRYPT_LOG_N = 20
const MAX_SCRYPT_R = 16
const MAX_SCRYPT_P = 4
const SALT_LENGTH = 16
const NONCE_LENGTH = 24
const TAG_LENGTH = 16
/** an identity file is a few hundred bytes; anything larger is not one */
const MAX_KEYSTORE_BYTES = 16 * 1024

export interface ScryptParams { N: number, r: number, p: number }

export interface EncryptedSeed {
  kdf: 'scrypt'
  N: number
  r: number
  p: number
  salt: string
  nonce: string
  ciphertext: string
}

/** the JSON shape of identity.json */
export interface KeystoreFile {
  version: 1
  type: 'ed25519'
  account: string
  seed?: string
  encrypted?: EncryptedSeed
}

export interface Identity {
  seed: Uint8Array
  publicKey: Uint8Array
  /** the account id, which is also the PeerId string */
  account: string
  /** native signer made once from the seed */
  signer: Ed25519Signer
  encrypted: boolean
  /** the identity file, or '' for an in-memory identity */
  path: string
}

export interface KeystoreOptions {
  /** seals the seed when creating; required to open a sealed file */
  passphrase?: string
  /** scrypt cost for a newly sealed file (tests lower it) */
  scrypt?: Partial<ScryptParams>
  /** randomness source, injectable for tests */
  randomBytes?: (n: number) => Uint8Array
}

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64')

function defaultRandom (n: number): Uint8Array {
  return new Uint8Array(nodeRandomBytes(n))
}

function fromB64 (value: unknown, field: string, length: number): Uint8Array {
  if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) throw new KeystoreFormatError(field, 'expected a base64 string')
  const bytes = new Uint8Array(Buffer.from(value, 'base64'))
  if (bytes.length !== length) throw new KeystoreFormatError(field, `expected ${length} bytes of base64, got ${bytes.length}`)
  return bytes
}

function intField (value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) throw new KeystoreFormatError(field, `expected an integer in ${min}..${max}`)
  return value
}

function aad (account: string): Uint8Array {
  return new TextEncoder().encode(`tally/keystore/1:${account}`)
}

async function deriveKey (passphrase: string, salt: Uint8Array, params: ScryptParams): Promise<Uint8Array> {
  return await scryptAsync(new TextEncoder().encode(passphrase.normalize('NFKC')), salt, { ...params, dkLen: 32, maxmem: 2 ** 31 })
}

/** Builds the file contents for a seed; pure apart from the KDF (salt and nonce are passed in via randomBytes). */
export async function encodeKeystore (seed: Uint8Array, opts: KeystoreOptions = {}): Promise<KeystoreFile> {
  if (seed.length !== SEED_LENGTH) throw new RangeError(`seed must be ${SEED_LENGTH} bytes`)
  const account = accountIdFromPublicKey(publicKeyFromSeed(seed))
  if (opts.passphrase == null) return { version: 1, type: 'ed25519', account, seed: b64(seed) }
  if (opts.passphrase.length === 0) throw new KeystorePassphraseError('passphrase must not be empty')
  const random = opts.randomBytes ?? defaultRandom
  const params: ScryptParams = { N: opts.scrypt?.N ?? DEFAULT_SCRYPT_N, r: opts.scrypt?.r ?? DEFAULT_SCRYPT_R, p: opts.scrypt?.p ?? DEFAULT_SCRYPT_P }
  const salt = random(SALT_LENGTH)
  const nonce = random(NONCE_LENGTH)
  const key = await deriveKey(opts.passphrase, salt, params)
  const ciphertext = xchacha20poly1305(key, nonce, aad(account)).encrypt(seed)
  return { version: 1, type: 'ed25519', account, encrypted: { kdf: 'scrypt', ...params, salt: b64(salt), nonce: b64(nonce), ciphertext: b64(ciphertext) } }
}

/** Validates parsed JSON field by field and recovers the seed; every failure names its field. */
export async function decodeKeystore (json: unknown, passphrase?: string): Promise<{ seed: Uint8Array, encrypted: boolean, account: string }> {
  if (json == null || typeof json !== 'object' || Array.isArray(json)) throw new KeystoreFormatError('(root)', 'expected a JSON object')
  const f = json as Record<string, unknown>
  if (f.version !== KEYSTORE_VERSION) throw new KeystoreFormatError('version', `expected ${KEYSTORE_VERSION}`)
  if (f.type !== 'ed25519') throw new KeystoreFormatError('type', 'expected "ed25519"')
  if (typeof f.account !== 'string' || f.account.length === 0 || f.account.length > 128) throw new KeystoreFormatError('account', 'expected an account id string')
  const account = f.account
  if ((f.seed == null) === (f.encrypted == null)) throw new KeystoreFormatError('seed', 'expected exactly one of "seed" or "encrypted"')
  let seed: Uint8Array
  let encrypted = false
  if (f.seed != null) {
    seed = fromB64(f.seed, 'seed', SEED_LENGTH)
  } else {
    encrypted = true
    const e = f.encrypted
    if (e == null || typeof e !== 'object' || Array.isArray(e)) throw new KeystoreFormatError('encrypted', 'expected an object')
    const enc = e as Record<string, unknown>
    if (enc.kdf !== 'scrypt') throw new KeystoreFormatError('encrypted.kdf', 'expected "scrypt"')
    const N = intField(enc.N, 'encrypted.N', 2 ** MIN_SCRYPT_LOG_N, 2 ** MAX_SCRYPT_LOG_N)
    if ((N & (N - 1)) !== 0) throw new KeystoreFormatError('encrypted.N', 'expected a power of two')
    const r = intField(enc.r, 'encrypted.r', 1, MAX_SCRYPT_R)
    const p = intField(enc.p, 'encrypted.p', 1, MAX_SCRYPT_P)
    const salt = fromB64(enc.salt, 'encrypted.salt', SALT_LENGTH)
    const nonce = fromB64(enc.nonce, 'encrypted.nonce', NONCE_LENGTH)
    const ciphertext = fromB64(enc.ciphertext, 'encrypted.ciphertext', SEED_LENGTH + TAG_LENGTH)
    if (passphrase == null || passphrase.length === 0) throw new KeystorePassphraseError('the identity file is encrypted: set TALLY_PASSPHRASE')
    const key = await deriveKey(passphrase, salt, { N, r, p })
    try {
      seed = xchacha20poly1305(key, nonce, aad(account)).decrypt(ciphertext)
    } catch {
      throw new KeystorePassphraseError('wrong passphrase (or the file was altered)')
    }
  }
  let derived: string
  try {
    derived = accountIdFromPublicKey(publicKeyFromSeed(seed))
  } catch {
    throw new KeystoreFormatError('seed', 'not a usable ed25519 seed')
  }
  if (derived !== account) throw new KeystoreFormatError('account', `does not match the key (file says ${account}, key is ${derived})`)
  return { seed, encrypted, account }
}

/** An in-memory identity with no file behind it (simulations, tests, SDK callers holding their own seed). */
export function identityFromSeed (seed: Uint8Array): Identity {
  if (seed.length !== SEED_LENGTH) throw new RangeError(`seed must be ${SEED_LENGTH} bytes, got ${seed.length}`)
  return identityFrom(Uint8Array.from(seed), false, '')
}

function identityFrom (seed: Uint8Array, encrypted: boolean, path: string): Identity {
  const signer = createSigner(seed, 'native')
  return { seed, publicKey: signer.publicKey, account: accountIdFromPublicKey(signer.publicKey), signer, encrypted, path }
}

export function keystorePath (dataDir: string): string {
  return join(dataDir, KEYSTORE_FILE)
}

/** Reads and checks `<dataDir>/identity.json`. */
export async function loadIdentity (dataDir: string, opts: KeystoreOptions = {}): Promise<Identity> {
  const path = keystorePath(dataDir)
  let st
  try {
    st = await stat(path)
  } catch (err: any) {
    if (err?.code === 'ENOENT') throw new KeystoreNotFoundError(`no identity file at ${path} (run \`tally keys new\`)`)
    throw err
  }
  if (!st.isFile()) throw new KeystoreFormatError('(file)', `${path} is not a regular file`)
  if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
    throw new KeystorePermissionError(`${path} is readable by group or others (mode ${(st.mode & 0o777).toString(8)}); run chmod 600 ${path}`)
  }
  if (st.size > MAX_KEYSTORE_BYTES) throw new KeystoreFormatError('(file)', `${path} is ${st.size} bytes, an identity file is under ${MAX_KEYSTORE_BYTES}`)
  const text = await readFile(path, 'utf8')
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    throw new KeystoreFormatError('(file)', `${path} is not valid JSON`)
  }
  const { seed, encrypted } = await decodeKeystore(json, opts.passphrase)
  return identityFrom(seed, encrypted, path)
}

/** Writes a new identity file atomically (tmp file, fsync, link into place); refuses to overwrite one. */
export async function createIdentity (dataDir: string, opts: KeystoreOptions & { seed?: Uint8Array } = {}): Promise<Identity> {
  const path = keystorePath(dataDir)
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  if (await stat(path).then(() => true, () => false)) throw new KeystoreExistsError(`${path} already exists; refusing to replace an identity`)
  const seed = opts.seed ?? (opts.randomBytes ?? defaultRandom)(SEED_LENGTH)
  const file = await encodeKeystore(seed, opts)
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`
  const fh = await open(tmp, 'wx', 0o600)
  try {
    await fh.writeFile(JSON.stringify(file, null, 2) + '\n')
    await fh.sync()
  } finally {
    await fh.close()
  }
  try {
    await chmod(tmp, 0o600)
    // link, not rename: it fails with EEXIST instead of replacing a file another process just wrote
    await link(tmp, path)
  } catch (err: any) {
    if (err?.code === 'EEXIST') throw new KeystoreExistsError(`${path} already exists; refusing to replace an identity`)
    throw err
  } finally {
    await unlink(tmp).catch(() => {})
  }
  const dir = await open(dataDir, 'r')
  try { await dir.sync() } catch {} finally { await dir.close() }
  return identityFrom(seed, opts.passphrase != null, path)
}

/** Loads the identity, creating it on first start. */
export async function loadOrCreateIdentity (dataDir: string, opts: KeystoreOptions = {}): Promise<Identity & { created: boolean }> {
  try {
    return { ...(await loadIdentity(dataDir, opts)), created: false }
  } catch (err) {
    if (!(err instanceof KeystoreNotFoundError)) throw err
  }
  try {
    return { ...(await createIdentity(dataDir, opts)), created: true }
  } catch (err) {
    // another process created it between our stat and our rename
    if (err instanceof KeystoreExistsError) return { ...(await loadIdentity(dataDir, opts)), created: false }
    throw err
  }
}
