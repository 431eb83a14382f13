import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { mkdtemp, rm, stat, readFile, writeFile, chmod } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as fc from 'fast-check'
import { createIdentity, identityFromSeed, loadIdentity, loadOrCreateIdentity, decodeKeystore, encodeKeystore, keystorePath } from '../../../src/identity/keystore.js'
import { KeystoreError, KeystoreExistsError, KeystoreFormatError, KeystoreNotFoundError, KeystorePassphraseError, KeystorePermissionError } from '../../../src/identity/errors.js'
import { verify } from '../../../src/identity/ed25519.js'

const FAST = { scrypt: { N: 1024, r: 8, p: 1 } }
let dir: string

beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'tally-ks-')) })
afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

async function rewrite (mutate: (j: any) => void): Promise<void> {
  const j = JSON.parse(await readFile(keystorePath(dir), 'utf8'))
  mutate(j)
  await writeFile(keystorePath(dir), JSON.stringify(j), { mode: 0o600 })
}

describe('keystore', () => {
  it('creates identity.json with mode 0600 on first start and loads the same key after', async () => {
    const first = await loadOrCreateIdentity(dir)
    expect(first.created).toBe(true)
    const st = await stat(keystorePath(dir))
    expect(st.mode & 0o777).toBe(0o600)
    const json = JSON.parse(await readFile(keystorePath(dir), 'utf8'))
    expect(json).toMatchObject({ version: 1, type: 'ed25519', account: first.account })
    expect(typeof json.seed).toBe('string')
    const again = await loadOrCreateIdentity(dir)
    expect(again.created).toBe(false)
    expect(again.account).toBe(first.account)
    const sig = again.signer.sign(new Uint8Array([1]))
    expect(verify(sig, new Uint8Array([1]), first.publicKey)).toBe(true)
  })

  it('refuses to overwrite an existing identity', async () => {
    await createIdentity(dir)
    await expect(createIdentity(dir)).rejects.toThrow(KeystoreExistsError)
  })

  it('a missing file is KeystoreNotFoundError', async () => {
    await expect(loadIdentity(dir)).rejects.toThrow(KeystoreNotFoundError)
  })

  it('refuses a group- or world-readable file', async () => {
    await createIdentity(dir)
    for (const mode of [0o644, 0o640, 0o604]) {
      await chmod(keystorePath(dir), mode)
      await expect(loadIdentity(dir)).rejects.toThrow(KeystorePermissionError)
    }
  })

  it('sealed with a passphrase: no seed in clear, right passphrase opens, wrong one is refused', async () => {
    const id = await createIdentity(dir, { passphrase: 'correct horse', ...FAST })
    const text = await readFile(keystorePath(dir), 'utf8')
    const json = JSON.parse(text)
    expect(json.seed).toBeUndefined()
    expect(json.encrypted).toMatchObject({ kdf: 'scrypt', N: 1024, r: 8, p: 1 })
    expect(text.includes(Buffer.from(id.seed).toString('base64'))).toBe(false)
    const loaded = await loadIdentity(dir, { passphrase: 'correct horse' })
    expect(loaded.account).toBe(id.account)
    expect(loaded.encrypted).toBe(true)
    await expect(loadIdentity(dir, { passphrase: 'wrong' })).rejects.toThrow(KeystorePassphraseError)
    await expect(loadIdentity(dir)).rejects.toThrow(KeystorePassphraseError)
  })

  it('a sealed file whose account was swapped fails authentication (account is bound as AAD)', async () => {
    await createIdentity(dir, { passphrase: 'pw', ...FAST })
    const other = await encodeKeystore(new Uint8Array(32).fill(9))
    await rewrite(j => { j.account = other.account })
    await expect(loadIdentity(dir, { passphrase: 'pw' })).rejects.toThrow(KeystorePassphraseError)
  })

  it('malformed JSON and bad fields give KeystoreFormatError naming the field', async () => {
    await createIdentity(dir)
    const cases: Array<[(j: any) => void, string]> = [
      [j => { j.version = 2 }, 'version'],
      [j => { j.type = 'rsa' }, 'type'],
      [j => { delete j.account }, 'account'],
      [j => { j.account = '12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK' }, 'account'],
      [j => { j.seed = 'AAAA' }, 'seed'],
      [j => { j.seed = '!!not base64!!' }, 'seed'],
      [j => { delete j.seed }, 'seed'],
      [j => { j.encrypted = { kdf: 'scrypt' } }, 'seed']
    ]
    for (const [mutate, field] of cases) {
      await rm(keystorePath(dir))
      await createIdentity(dir)
      await rewrite(mutate)
      const err = await loadIdentity(dir).catch(e => e)
      expect(err).toBeInstanceOf(KeystoreFormatError)
      expect(err.field).toBe(field)
    }
    await writeFile(keystorePath(dir), '{ not json', { mode: 0o600 })
    await expect(loadIdentity(dir)).rejects.toThrow(/not valid JSON/)
  })

  it('bad encrypted fields name the field, and hostile scrypt costs are refused before deriving', async () => {
    const good = await encodeKeystore(new Uint8Array(32).fill(3), { passphrase: 'pw', ...FAST })
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ kdf: 'argon2' }, 'encrypted.kdf'],
      [{ N: 2 ** 30 }, 'encrypted.N'],
      [{ N: 1000 }, 'encrypted.N'],
      [{ N: 3000 }, 'encrypted.N'],
      [{ r: 0 }, 'encrypted.r'],
      [{ p: 99 }, 'encrypted.p'],
      [{ salt: 'AAAA' }, 'encrypted.salt'],
      [{ nonce: 12 }, 'encrypted.nonce'],
      [{ ciphertext: 'AAAA' }, 'encrypted.ciphertext']
    ]
    for (const [patch, field] of cases) {
      const bad = { ...good, encrypted: { ...good.encrypted, ...patch } }
      const err = await decodeKeystore(bad, 'pw').catch(e => e)
      expect(err).toBeInstanceOf(KeystoreFormatError)
      expect(err.field).toBe(field)
    }
    await expect(decodeKeystore({ ...good, encrypted: [] }, 'pw')).rejects.toThrow(KeystoreFormatError)
  })

  it('any JSON value decodes or fails with a KeystoreError, never anything else (property)', async () => {
    await fc.assert(fc.asyncProperty(fc.jsonValue(), async (value) => {
      try { await decodeKeystore(value) } catch (err) { expect(err).toBeInstanceOf(KeystoreError) }
    }), { numRuns: 200 })
  })

  it('identityFromSeed gives the same account as a file with that seed', async () => {
    const seed = new Uint8Array(32).fill(4)
    const mem = identityFromSeed(seed)
    const file = await createIdentity(dir, { seed })
    expect(mem.account).toBe(file.account)
    expect(mem.path).toBe('')
    expect(() => identityFromSeed(new Uint8Array(16))).toThrow(RangeError)
  })

  it('encode → decode round trips for any seed', async () => {
    await fc.assert(fc.asyncProperty(fc.uint8Array({ minLength: 32, maxLength: 32 }), async (seed) => {
      const out = await decodeKeystore(await encodeKeystore(seed))
      expect(Buffer.from(out.seed).equals(Buffer.from(seed))).toBe(true)
    }), { numRuns: 30 })
  })
})
