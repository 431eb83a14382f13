/**
 * How the HTTP backend reaches its server: by default undici's pooled client (one Agent per
 * backend, keep-alive, as many connections per origin as the backend runs requests at once, so a
 * warm seller never pays a TCP handshake per request); a caller-supplied `fetch` (tests, proxies)
 * goes through the same seam. Both give an answer whose body is read chunk by chunk and released:
 * drained when the stream ended cleanly (the connection goes back to the pool), destroyed otherwise.
 */
import { STATUS_CODES } from 'node:http'
import { Agent, request } from 'undici'

/** keep an idle pooled connection this long (a server's own keep-alive hint may shorten it) */
export const HTTP_KEEP_ALIVE_MS = 60_000
/** at most this many bytes are read after [DONE] to hand the connection back to the pool */
const DRAIN_LIMIT_BYTES = 64 * 1024

export interface UpstreamAnswer {
  status: number
  statusText: string
  /** false when the answer has no body at all (fetch's null body) */
  hasBody: boolean
  header: (name: string) => string | null
  /** the next piece of the body, undefined at its end */
  next: () => Promise<Uint8Array | undefined>
  /** done with the body: `drain` reads what is left, up to a limit (the connection is reused), else the body is dropped */
  release: (drain: boolean) => Promise<void>
  text: () => Promise<string>
}

export interface UpstreamClient {
  post: (url: string, headers: Record<string, string>, body: string, signal: AbortSignal) => Promise<UpstreamAnswer>
  close: () => Promise<void>
}

/** undici's pooled client: `connections` per origin, keep-alive; timeouts are the backend's own (first byte, idle) */
export function pooledClient (connections: number): UpstreamClient {
  const agent = new Agent({ connections, keepAliveTimeout: HTTP_KEEP_ALIVE_MS, keepAliveMaxTimeout: HTTP_KEEP_ALIVE_MS, headersTimeout: 0, bodyTimeout: 0 })
  return {
    async post (url, headers, body, signal) {
      const res = await request(url, { method: 'POST', headers, body, signal, dispatcher: agent })
      const it = res.body[Symbol.asyncIterator]()
      let released = false
      return {
        status: res.statusCode,
        statusText: STATUS_CODES[res.statusCode] ?? '',
        hasBody: true,
        header: (name) => {
          const v = res.headers[name.toLowerCase()]
          return v == null ? null : Array.isArray(v) ? v.join(', ') : v
        },
        next: async () => {
          const r = await it.next()
          return r.done === true ? undefined : r.value as Uint8Array
        },
        release: async (drain) => {
          if (released) return
          released = true
          if (drain) await res.body.dump({ limit: DRAIN_LIMIT_BYTES }).catch(() => {})
          else { res.body.on('error', () => {}); res.body.destroy() }
        },
        text: async () => { released = true; return await res.body.text() }
      }
    },
    async close () {
      await agent.destroy().catch(() => {})
    }
  }
}

/** a WHATWG fetch behind the same seam */
export function fetchClient (f: typeof fetch): UpstreamClient {
  return {
    async post (url, headers, body, signal) {
      const res = await f(url, { method: 'POST', headers, body, signal })
      const reader = res.body?.getReader()
      let released = false
      return {
        status: res.status,
        statusText: res.statusText,
        hasBody: reader != null,
        header: (name) => res.headers.get(name),
        next: async () => {
          if (reader == null) return undefined
          const r = await reader.read()
          return r.done ? undefined : r.value
        },
        release: async (drain) => {
          if (released) return
          released = true
          // a fetch body left unread holds its connection: cancelled either way
          await reader?.cancel().catch(() => {})
        },
        text: async () => {
          released = true
          if (reader == null) return ''
          const parts: Uint8Array[] = []
          for (;;) {
            const r = await reader.read()
            if (r.done) break
            parts.push(r.value)
          }
          return Buffer.concat(parts).toString()
        }
      }
    },
    async close () {}
  }
}
