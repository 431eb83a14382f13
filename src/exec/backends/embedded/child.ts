/**
 * Entry point of the engine child process: loads the model named by the parent's `init`
 * message and runs requests it receives over IPC. A llama.cpp abort ends only this process.
 */
import '../../../polyfill.js'
import { Engine, runOnEngine } from './engine.js'
import type { FromChild, ToChild } from './ipc.js'
import type { ToolCallDelta } from '../../tools.js'
import { ErrorCode, errorCode } from '../../../errors/index.js'

let engine: Engine | undefined
let allowTestHooks = false
const running = new Map<number, AbortController>()

function send (msg: FromChild): void {
  if (process.connected) process.send?.(msg)
}

async function handle (msg: ToChild): Promise<void> {
  switch (msg.t) {
    case 'init':
      allowTestHooks = msg.allowTestHooks
      try {
        engine = await Engine.load(msg.init)
        send({ t: 'ready' })
      } catch (err: any) {
        send({ t: 'init-error', message: String(err?.message ?? err) })
      }
      return
    case 'gen': {
      const id = msg.id
      if (engine == null) { send({ t: 'error', id, name: 'EngineRequestError', code: ErrorCode.backendError, message: 'engine not loaded' }); return }
      const ac = new AbortController()
      running.set(id, ac)
      // chunks produced in one event-loop turn travel in one IPC message
      let batch: Array<[string, number] | [string, number, ToolCallDelta[]]> = []
      let scheduled = false
      const flush = (): void => {
        scheduled = false
        if (batch.length === 0) return
        send({ t: 'chunks', id, items: batch })
        batch = []
      }
      try {
        const result = await engine.generate(msg.request, ac.signal, (text, outputTokens, toolCalls) => {
          batch.push(toolCalls != null ? [text, outputTokens, toolCalls] : [text, outputTokens])
          if (!scheduled) { scheduled = true; setImmediate(flush) }
        })
        flush()
        send({ t: 'done', id, ...result })
      } catch (err: any) {
        flush()
        send({ t: 'error', id, name: String(err?.name ?? 'Error'), code: errorCode(err), message: String(err?.message ?? err) })
      } finally {
        running.delete(id)
      }
      return
    }
    case 'direct':
      if (engine == null) { send({ t: 'error', id: msg.id, name: 'EngineRequestError', code: ErrorCode.backendError, message: 'engine not loaded' }); return }
      try {
        send({ t: 'direct-result', id: msg.id, run: await runOnEngine(engine, msg.request) })
      } catch (err: any) {
        send({ t: 'error', id: msg.id, name: String(err?.name ?? 'Error'), code: errorCode(err), message: String(err?.message ?? err) })
      }
      return
    case 'count':
      if (engine == null) { send({ t: 'error', id: msg.id, name: 'EngineRequestError', code: ErrorCode.backendError, message: 'engine not loaded' }); return }
      try {
        send({ t: 'count-result', id: msg.id, inputTokens: engine.countInputTokens(msg.request) })
      } catch (err: any) {
        send({ t: 'error', id: msg.id, name: String(err?.name ?? 'Error'), code: errorCode(err), message: String(err?.message ?? err) })
      }
      return
    case 'count-embed':
      if (engine == null) { send({ t: 'error', id: msg.id, name: 'EngineRequestError', code: ErrorCode.backendError, message: 'engine not loaded' }); return }
      try {
        send({ t: 'count-result', id: msg.id, inputTokens: engine.countEmbedTokens(msg.inputs) })
      } catch (err: any) {
        send({ t: 'error', id: msg.id, name: String(err?.name ?? 'Error'), code: errorCode(err), message: String(err?.message ?? err) })
      }
      return
    case 'embed': {
      if (engine == null) { send({ t: 'error', id: msg.id, name: 'EngineRequestError', code: ErrorCode.backendError, message: 'engine not loaded' }); return }
      const ac = new AbortController()
      running.set(msg.id, ac)
      try {
        send({ t: 'embed-result', id: msg.id, result: await engine.embed(msg.request, ac.signal) })
      } catch (err: any) {
        send({ t: 'error', id: msg.id, name: String(err?.name ?? 'Error'), code: errorCode(err), message: String(err?.message ?? err) })
      } finally {
        running.delete(msg.id)
      }
      return
    }
    case 'cancel':
      running.get(msg.id)?.abort()
      return
    case 'abort':
      if (allowTestHooks) process.abort()
      return
    case 'shutdown':
      for (const ac of running.values()) ac.abort()
      await engine?.close().catch(() => {})
      process.exit(0)
  }
}

process.on('message', (msg: ToChild) => { void handle(msg) })
process.on('disconnect', () => { process.exit(0) })
