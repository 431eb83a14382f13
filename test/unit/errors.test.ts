/**
 * One error type: every error class in src is a TallyError with a code from ErrorCode and a
 * name no other class has; the HTTP table answers every code that can reach the gateway; the
 * router's policy, the infer failure codes and the engine's process boundary go by code.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { pathToFileURL } from 'node:url'
import { CodedError, ERROR_CODES, ErrorCode, InsufficientCreditError, TallyError, errorCode, isErrorCode } from '../../src/errors/index.js'
import { HTTP_BY_CODE, HttpApiError, toHttpError } from '../../src/api/errors.js'
import { FailureCode, codeOfFailure, failureCodeOf, RemoteInferError } from '../../src/exec/infer/errors.js'
import { WireError } from '../../src/wire/errors.js'
import { VoucherError } from '../../src/exec/voucher.js'
import { BackendBusyError } from '../../src/exec/backend.js'
import { NegotiationRefusedError, RefusalReason } from '../../src/contract/errors.js'
import { failurePolicy } from '../../src/node/buyer.js'
import { EngineRequestError, errorFromChild } from '../../src/exec/backends/embedded/index.js'

const SRC = join(import.meta.dirname, '../../src')

/** error classes that are not TallyErrors, each with its reason */
const NOT_TALLY_ERRORS: Record<string, string> = {
  HttpApiError: 'the HTTP answer itself (status and OpenAI error shape), the output of the code mapping',
  NothingDelivered: 'node/buyer.ts, not exported: carries failed attempts to the retry loop, never thrown out',
  RequestFailed: 'exec/infer/seller.ts, not exported: carries the wire failure to send, never thrown out',
  StaleStreamError: 'exec/infer/buyer.ts, not exported: a kept stream that failed before the seller answered, caught to resend once on a new stream',
  Refusal: 'contract/negotiate.ts, not exported: carries a refusal reason to the frame that sends it, never thrown out',
  Truncated: 'exec/model/gguf.ts, not exported: a short header read, caught to read more of the file'
}

interface ClassDecl { name: string, base: string, file: string, exported: boolean }

function sourceFiles (dir: string): string[] {
  return readdirSync(dir).flatMap(f => {
    const p = join(dir, f)
    if (statSync(p).isDirectory()) return p.endsWith(join('wire', 'pb')) ? [] : sourceFiles(p)
    return p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : []
  })
}

/** every class in src whose chain of `extends` reaches Error */
function errorClasses (): ClassDecl[] {
  const all: ClassDecl[] = []
  for (const file of sourceFiles(SRC)) {
    for (const m of readFileSync(file, 'utf8').matchAll(/^(export )?(?:abstract )?class (\w+) extends (\w+)/gm)) {
      all.push({ name: m[2], base: m[3], file: relative(SRC, file), exported: m[1] != null })
    }
  }
  const byName = new Map<string, ClassDecl[]>()
  for (const c of all) byName.set(c.name, [...(byName.get(c.name) ?? []), c])
  const isError = (c: ClassDecl, seen = new Set<string>()): boolean => {
    if (c.base === 'Error') return true
    if (seen.has(c.name)) return false
    seen.add(c.name)
    return (byName.get(c.base) ?? []).some(b => isError(b, seen))
  }
  return all.filter(c => isError(c))
}

/** an instance of an exported error class, built with placeholder arguments */
async function instanceOf (c: ClassDecl): Promise<unknown> {
  const mod = await import(pathToFileURL(join(SRC, c.file)).href)
  const Ctor = mod[c.name]
  if (c.name === 'CodedError') return new Ctor(ErrorCode.backendError, 'test')
  return new Ctor('test', 'test', 'test', 'test')
}

describe('error classes', () => {
  const classes = errorClasses()

  it('finds the error classes of src (the scan works)', () => {
    expect(classes.length).toBeGreaterThan(80)
    expect(classes.map(c => c.name)).toEqual(expect.arrayContaining(['TallyError', 'InsufficientCreditError', 'InvalidRecordError', 'NoSellerError', 'BackendBusyError']))
  })

  it('no two classes share a name', () => {
    const names = classes.map(c => c.name)
    const twice = names.filter((n, i) => names.indexOf(n) !== i)
    expect(twice, classes.filter(c => twice.includes(c.name)).map(c => `${c.name} in ${c.file}`).join(', ')).toEqual([])
  })

  it('only the listed classes are not TallyErrors', () => {
    const untyped = classes.filter(c => c.name !== 'TallyError' && !inheritsTally(c, classes)).map(c => c.name).sort()
    expect(untyped).toEqual(Object.keys(NOT_TALLY_ERRORS).sort())
    // the internal ones stay internal
    expect(classes.filter(c => c.exported && NOT_TALLY_ERRORS[c.name] != null).map(c => c.name)).toEqual(['HttpApiError'])
  })

  it('every exported error class has a code from ErrorCode and its own stable name', async () => {
    for (const c of classes.filter(c => c.exported && NOT_TALLY_ERRORS[c.name] == null)) {
      const e = await instanceOf(c)
      expect(e, c.name).toBeInstanceOf(TallyError)
      const t = e as TallyError
      expect(isErrorCode(t.code), `${c.name}.code = ${String(t.code)}`).toBe(true)
      expect(t.name, c.file).toBe(c.name)
      // only the base class itself is `internal`; a class that forgets its code inherits its parent's
      if (c.name !== 'TallyError') expect(t.code, c.name).not.toBe(ErrorCode.internal)
    }
  })

  it('one InsufficientCreditError: the ledger and the router throw the same class', async () => {
    const ledger = await import('../../src/ledger/errors.js')
    const router = await import('../../src/market/router-types.js')
    expect(ledger.InsufficientCreditError).toBe(InsufficientCreditError)
    expect(router.InsufficientCreditError).toBe(InsufficientCreditError)
    expect(new InsufficientCreditError('x').code).toBe('insufficient-credit')
  })
})

function inheritsTally (c: ClassDecl, all: ClassDecl[]): boolean {
  let cur: ClassDecl | undefined = c
  const seen = new Set<string>()
  while (cur != null && !seen.has(cur.name)) {
    if (cur.base === 'TallyError') return true
    seen.add(cur.name)
    cur = all.find(x => x.name === cur!.base)
  }
  return false
}

describe('codes', () => {
  it('are unique, kebab-case strings', () => {
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length)
    for (const c of ERROR_CODES) expect(c).toMatch(/^[a-z]+(-[a-z]+)*$/)
  })

  it('errorCode of anything that is not a TallyError is internal', () => {
    fc.assert(fc.property(fc.anything(), v => errorCode(v) === ErrorCode.internal))
    expect(errorCode(new Error('plain'))).toBe('internal')
  })
})

describe('HTTP mapping', () => {
  /** every code the gateway's calls (infer, models, offers, pay, report, balance, history) can throw */
  const REACH_THE_GATEWAY: Array<[ErrorCode, number]> = [
    [ErrorCode.unknownModel, 404],
    [ErrorCode.noSeller, 503],
    [ErrorCode.insufficientCredit, 402],
    [ErrorCode.routeTimeout, 504],
    [ErrorCode.deadlineExceeded, 504],
    [ErrorCode.midStream, 502],
    [ErrorCode.aborted, 499],
    [ErrorCode.invalidAccount, 400],
    [ErrorCode.invalidArgument, 400],
    [ErrorCode.invalidRequest, 400],
    [ErrorCode.invalidRecord, 400],
    [ErrorCode.ledgerUnavailable, 503]
  ]

  it('answers every code that can reach the gateway', () => {
    for (const [code, status] of REACH_THE_GATEWAY) {
      expect(HTTP_BY_CODE[code]?.[0], code).toBe(status)
      expect(toHttpError(new CodedError(code, 'why')).status, code).toBe(status)
    }
  })

  it('a TallyError with a mapped code never answers 500; one without answers 500', () => {
    fc.assert(fc.property(fc.constantFrom(...ERROR_CODES), fc.string(), (code, message) => {
      const h = toHttpError(new CodedError(code, message))
      const mapped = HTTP_BY_CODE[code]
      if (mapped == null) return h.status === 500
      return h.status !== 500 && h.status === mapped[0] && h.type === mapped[1] && h.code === mapped[2] && h.message === message
    }))
  })

  it('statuses are client or upstream errors, never 500 in the table', () => {
    for (const [code, m] of Object.entries(HTTP_BY_CODE)) {
      expect(m![0] >= 400 && m![0] < 600 && m![0] !== 500, code).toBe(true)
    }
  })

  it('the ledger\'s refusal, a seller\'s credit refusal and the router\'s check all answer 402', () => {
    expect(toHttpError(new InsufficientCreditError('overspend')).status).toBe(402)
    expect(toHttpError(new NegotiationRefusedError(RefusalReason.INSUFFICIENT_CREDIT, 'no')).status).toBe(402)
    expect(toHttpError(new Error('x')).status).toBe(500)
    const given = new HttpApiError(401, 'invalid_request_error', 'no token')
    expect(toHttpError(given)).toBe(given)
  })
})

describe('the router\'s retry policy', () => {
  it('stops when the buyer cannot pay, skips a busy or repriced seller, blames the rest', () => {
    expect(failurePolicy(new InsufficientCreditError('ledger refused the open'))).toBe('stop')
    expect(failurePolicy(new NegotiationRefusedError(RefusalReason.INSUFFICIENT_CREDIT, 'no headroom'))).toBe('stop')
    expect(failurePolicy(new NegotiationRefusedError(RefusalReason.NO_CAPACITY, 'full'))).toBe('skip')
    expect(failurePolicy(new NegotiationRefusedError(RefusalReason.PRICE_CHANGED, 'repriced'))).toBe('skip')
    expect(failurePolicy(new RemoteInferError(FailureCode.busy, 'busy'))).toBe('skip')
    expect(failurePolicy(new BackendBusyError('full'))).toBe('skip')
    expect(failurePolicy(new NegotiationRefusedError(RefusalReason.BAD_REQUEST, 'no'))).toBe('blame')
    expect(failurePolicy(new RemoteInferError(FailureCode.backend, 'boom'))).toBe('blame')
    expect(failurePolicy(new Error('dial failed'))).toBe('blame')
  })
})

describe('infer failure codes', () => {
  it('a wire failure code survives the trip to an error code and back', () => {
    for (const f of Object.values(FailureCode)) expect(failureCodeOf(codeOfFailure(f)), f).toBe(f)
    expect(codeOfFailure('made-up')).toBe('remote-failure')
    expect(codeOfFailure('__proto__')).toBe('remote-failure')
  })

  it('the seller answers bad-request for every wire error, bad-voucher for every voucher error, busy for a busy backend', async () => {
    const classes = errorClasses().filter(c => c.exported && NOT_TALLY_ERRORS[c.name] == null)
    for (const c of classes) {
      const e = await instanceOf(c) as TallyError
      if (e instanceof WireError) expect(failureCodeOf(e.code), c.name).toBe(FailureCode.badRequest)
      if (e instanceof VoucherError) expect(failureCodeOf(e.code), c.name).toBe(FailureCode.badVoucher)
    }
    expect(failureCodeOf(new BackendBusyError('full').code)).toBe(FailureCode.busy)
    expect(failureCodeOf(errorCode(new Error('anything else')))).toBe(FailureCode.backend)
  })
})

describe('the embedded engine\'s process boundary', () => {
  /** what crosses the IPC channel: a structured clone of the message */
  const across = (err: TallyError | Error): TallyError => errorFromChild(structuredClone({ name: err.name, code: errorCode(err), message: err.message }))

  it('rebuilds busy and request errors as their classes, anything else as a backend error', () => {
    const busy = across(new BackendBusyError('no free sequence'))
    expect(busy).toBeInstanceOf(BackendBusyError)
    expect(busy.code).toBe('backend-busy')
    const bad = across(new EngineRequestError('prompt too long'))
    expect(bad).toBeInstanceOf(EngineRequestError)
    expect(bad.code).toBe('backend-error')
    const other = across(new TypeError('llama failed'))
    expect(other.code).toBe('backend-error')
    expect(other.message).toBe('TypeError: llama failed')
    expect(errorFromChild({ name: 'X', code: 'not-a-code', message: 'm' }).code).toBe('backend-error')
  })
})
