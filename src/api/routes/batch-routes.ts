/**
 * OpenAI's Files and Batches API on the node (docs/batch.md): `POST /v1/files` (multipart,
 * purpose `batch`), `GET /v1/files/{id}` and `/content`, `POST /v1/batches`, `GET /v1/batches`
 * and `/{id}`, `POST /v1/batches/{id}/cancel`. The jobs run in the node (src/node/batch); each
 * line is parsed by the chat route's own parser and answered in its shape, `tally` field included.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { HttpApiError, badRequest, toHttpError } from '../errors.js'
import { send } from '../http-util.js'
import { completionBody, parseChatRequest } from '../openai.js'
import type { GatewayBuyer } from '../gateway.js'
import { BatchService, MAX_BATCH_FILE_BYTES, postedPrices, type LineCodec } from '../../node/batch/index.js'

/** multipart framing around the file: its headers and the purpose field */
const MULTIPART_OVERHEAD_BYTES = 64 * 1024
/** most batches one list answer holds (OpenAI's bound) */
const MAX_LIST_LIMIT = 100

/** the chat route's parser and answer, for batch lines: one choice, not streamed */
export const chatLineCodec: LineCodec = {
  parse (body) {
    const p = parseChatRequest(body)
    if (p.stream) throw badRequest('stream must be false in a batch line (a batch answers whole)', 'stream')
    if (p.n !== 1) throw badRequest('n must be 1 in a batch line', 'n')
    return { model: p.model, request: p.request, constraints: p.constraints }
  },
  render: (id, createdS, r) => completionBody(id, createdS, r),
  error (err) {
    const e = toHttpError(err)
    return { status: e.status, body: e.toJSON() }
  }
}

interface Part { name: string, filename?: string, data: Buffer }

/** the parts of a multipart/form-data body (RFC 7578): what `openai.files.create` sends */
export function parseMultipart (body: Buffer, contentType: string): Part[] {
  const m = /boundary=(?:"([^"]{1,70})"|([^\s;]{1,70}))/i.exec(contentType)
  if (m == null) throw badRequest('multipart/form-data needs a boundary', 'file')
  const delim = Buffer.from(`--${m[1] ?? m[2]}`)
  const parts: Part[] = []
  let at = body.indexOf(delim)
  if (at < 0) throw badRequest('malformed multipart body: no boundary found', 'file')
  while (true) {
    at += delim.length
    if (body.subarray(at, at + 2).toString() === '--') break
    const headEnd = body.indexOf('\r\n\r\n', at)
    if (headEnd < 0) throw badRequest('malformed multipart body: a part has no header end', 'file')
    const head = body.subarray(at, headEnd).toString('utf8')
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delim]), headEnd + 4)
    if (next < 0) throw badRequest('malformed multipart body: a part is not closed', 'file')
    const disp = /content-disposition:\s*form-data;([^\r\n]*)/i.exec(head)
    const name = disp != null ? /\bname="([^"]*)"/i.exec(disp[1])?.[1] : undefined
    if (name == null) throw badRequest('malformed multipart body: a part has no name', 'file')
    const filename = disp != null ? /\bfilename="([^"]*)"/i.exec(disp[1])?.[1] : undefined
    parts.push({ name, filename, data: body.subarray(headEnd + 4, next) })
    at = next + 2
  }
  return parts
}

/** the batch service behind the routes; null when the node keeps no data dir */
export function batchRoutes (app: FastifyInstance, buyer: GatewayBuyer, dir: string): BatchService {
  const offerList = buyer.offerList
  if (offerList == null) throw new TypeError('batch routes need a buyer with offerList')
  const service = new BatchService({ dir, buyer, quotes: postedPrices(model => offerList.call(buyer, model)), codec: chatLineCodec })
  const id = (req: FastifyRequest): string => (req.params as Record<string, string>).id

  void app.register(async (files) => {
    files.addContentTypeParser('multipart/form-data', { parseAs: 'buffer', bodyLimit: MAX_BATCH_FILE_BYTES + MULTIPART_OVERHEAD_BYTES }, (_req, body, done) => { done(null, body) })
    files.post('/v1/files', { bodyLimit: MAX_BATCH_FILE_BYTES + MULTIPART_OVERHEAD_BYTES }, async (req, reply) => {
      const type = req.headers['content-type'] ?? ''
      if (!Buffer.isBuffer(req.body) || !type.toLowerCase().startsWith('multipart/form-data')) throw badRequest('POST /v1/files takes multipart/form-data with fields purpose and file', 'file')
      const parts = parseMultipart(req.body, type)
      const purpose = parts.find(p => p.name === 'purpose')?.data.toString('utf8')
      const file = parts.find(p => p.name === 'file')
      if (purpose == null) throw badRequest('purpose is required', 'purpose')
      if (file == null) throw badRequest('file is required', 'file')
      if (file.data.length > MAX_BATCH_FILE_BYTES) throw new HttpApiError(413, 'invalid_request_error', `the file exceeds ${MAX_BATCH_FILE_BYTES} bytes`, 'file', 'file_too_large')
      return send(reply, 200, service.createFile(file.filename ?? 'input.jsonl', purpose, file.data))
    })
  })
  app.get('/v1/files/:id', async (req, reply) => send(reply, 200, service.getFile(id(req))))
  app.get('/v1/files/:id/content', async (req, reply) => reply.code(200).header('content-type', 'application/octet-stream').send(service.fileContent(id(req))))

  app.post('/v1/batches', async (req, reply) => {
    if (typeof req.body !== 'object' || req.body == null || Array.isArray(req.body)) throw badRequest('request body must be a JSON object')
    return send(reply, 200, service.createBatch(req.body as Record<string, unknown>))
  })
  app.get('/v1/batches', async (req, reply) => {
    const q = req.query as Record<string, string | undefined>
    const limit = q.limit == null ? 20 : Number(q.limit)
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) throw badRequest(`limit must be an integer 1..${MAX_LIST_LIMIT}`, 'limit')
    return send(reply, 200, service.listBatches({ after: q.after, limit }))
  })
  app.get('/v1/batches/:id', async (req, reply) => send(reply, 200, service.getBatch(id(req))))
  app.post('/v1/batches/:id/cancel', async (req, reply) => send(reply, 200, service.cancel(id(req))))
  return service
}
