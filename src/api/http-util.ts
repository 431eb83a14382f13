/** JSON answers shared by every route module: bigints as numbers when safe, else decimal strings. */
import type { FastifyReply } from 'fastify'

/** JSON with bigints as numbers when safe, else decimal strings */
export function jsonReplacer (_k: string, v: unknown): unknown {
  if (typeof v === 'bigint') return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v.toString()
  return v
}

export function send (reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply.code(status).header('content-type', 'application/json; charset=utf-8').send(JSON.stringify(body, jsonReplacer))
}
