/**
 * The gateway's connection caps: at most `maxPerAddress` sockets per client address and
 * `maxTotal` in all. When a cap is reached, the oldest socket of that address (or of all) that
 * has not delivered a complete request (idle, or still sending headers or body) is closed to make
 * room, so a client that opens sockets and sends nothing loses its own oldest ones first and an
 * honest request still gets in; when every socket is busy with a complete request, the new one is
 * refused. Requests in flight, streamed completions included, are never closed here.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'

export interface ConnectionCaps {
  maxTotal: number
  maxPerAddress: number
}

interface Tracked {
  socket: Socket
  address: string
  /** the request being answered on this socket, if any */
  request?: IncomingMessage
}

export type ConnectionEvent = 'evicted' | 'refused'

export class ConnectionGuard {
  /** insertion order = age: the first entries are the oldest */
  private readonly all = new Map<Socket, Tracked>()
  private readonly byAddress = new Map<string, Set<Tracked>>()

  constructor (private readonly caps: ConnectionCaps, private readonly onEvent: (e: ConnectionEvent) => void = () => {}) {}

  get open (): number {
    return this.all.size
  }

  /** applies the caps to every connection and request of `server` */
  attach (server: Server): void {
    server.on('connection', (socket: Socket) => { this.admit(socket) })
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const t = this.all.get(req.socket)
      if (t == null) return
      t.request = req
      const done = (): void => { if (t.request === req) t.request = undefined }
      res.once('finish', done)
      res.once('close', done)
    })
  }

  private admit (socket: Socket): void {
    const address = socket.remoteAddress ?? ''
    let mine = this.byAddress.get(address)
    if (mine != null && mine.size >= this.caps.maxPerAddress && !this.evictOldest(mine.values())) {
      this.refuse(socket)
      return
    }
    if (this.all.size >= this.caps.maxTotal && !this.evictOldest(this.all.values())) {
      this.refuse(socket)
      return
    }
    const t: Tracked = { socket, address }
    this.all.set(socket, t)
    if (mine == null) {
      mine = new Set()
      this.byAddress.set(address, mine)
    }
    mine.add(t)
    socket.once('close', () => { this.forget(t) })
  }

  /** whether `t` may be closed to make room: no complete request is being answered on it */
  private static evictable (t: Tracked): boolean {
    return t.request == null || !t.request.complete
  }

  private evictOldest (candidates: Iterable<Tracked>): boolean {
    for (const t of candidates) {
      if (!ConnectionGuard.evictable(t)) continue
      this.forget(t)
      t.socket.destroy()
      this.onEvent('evicted')
      return true
    }
    return false
  }

  /** closes every socket that is not answering a complete request (the gateway is closing) */
  closeWaiting (): void {
    for (const t of [...this.all.values()]) {
      if (!ConnectionGuard.evictable(t)) continue
      this.forget(t)
      t.socket.destroy()
    }
  }

  private refuse (socket: Socket): void {
    socket.destroy()
    this.onEvent('refused')
  }

  private forget (t: Tracked): void {
    if (this.all.get(t.socket) !== t) return
    this.all.delete(t.socket)
    const mine = this.byAddress.get(t.address)
    mine?.delete(t)
    if (mine?.size === 0) this.byAddress.delete(t.address)
  }
}
