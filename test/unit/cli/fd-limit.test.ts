/** Which loader failures are a too-low open-file limit (said as such) and which are real. */
import { describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { isOpenFileExhaustion } from '../../../src/cli/fd-limit.js'

const root = join(import.meta.dirname, '../../..')
const notFound = (what: string): Error => Object.assign(new Error(`Cannot find package '${what}' imported from ${root}/x.js`), { code: 'ERR_MODULE_NOT_FOUND' })

describe('isOpenFileExhaustion', () => {
  it('EMFILE and ENFILE are', () => {
    expect(isOpenFileExhaustion(Object.assign(new Error('too many'), { code: 'EMFILE' }))).toBe(true)
    expect(isOpenFileExhaustion(Object.assign(new Error('too many'), { code: 'ENFILE' }))).toBe(true)
  })

  it('a "missing" file that exists is (the loader could not open it)', () => {
    expect(isOpenFileExhaustion(notFound(join(root, 'package.json')))).toBe(true)
  })

  it('a package whose manifest could not be read is (the loader fell back to <package>/index.js)', () => {
    // uint8arraylist has a package.json and no index.js: what legacyMainResolve names when it failed to read the manifest
    expect(isOpenFileExhaustion(notFound(join(root, 'node_modules/uint8arraylist/index.js')))).toBe(true)
  })

  it('a module that really is missing is not', () => {
    expect(isOpenFileExhaustion(notFound(join(root, 'node_modules/no-such-package-here/index.js')))).toBe(false)
    expect(isOpenFileExhaustion(notFound('relative/thing.js'))).toBe(false)
    expect(isOpenFileExhaustion(new Error('other'))).toBe(false)
    expect(isOpenFileExhaustion(undefined)).toBe(false)
  })
})
