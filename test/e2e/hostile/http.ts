/**
 * Raw HTTP clients for the hostile-gateway tests and the attack bench: one request with exactly the
 * headers given (Host included), and TCP sockets that start a request and never finish it.
 */
import { connect, type Socket } from 'node:net'
import { request } from 'node:http'
import type { Gateway } from '../../../src/api/gateway.js'

export interface Answer { status: number, headers: Record<string, string | string[] | undefined>, body: string }

/** one HTTP request with exactly these headers (fetch would not let a test set Host) */
export async function http (gw: Gateway, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> {
  const url = new URL(gw.url)
  return await new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method, path, headers: { ...(body != null ? { 'content-type': 'application/json' } : {}), ...headers }, agent: false }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { text += c })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }) })
    })
    req.on('error', reject)
    req.end(body)
  })
}

export interface StalledSocket { socket: Socket, closed: () => boolean, received: () => string }

/** a raw TCP socket to the gateway that has written `text` and then says nothing more */
export async function stalledSocket (gw: Gateway, text: string): Promise<StalledSocket> {
  const url = new URL(gw.url)
  const socket = connect(Number(url.port), url.hostname)
  let closed = false
  let received = ''
  socket.on('close', () => { closed = true })
  socket.on('error', () => {})
  socket.on('data', (d) => { received += d.toString('latin1') })
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
  if (text !== '') socket.write(text)
  return { socket, closed: () => closed, received: () => received }
}

export const LYING_POST = (port: string): string => `POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"model":`
