// The dashboard's only script: every POLL_MS it reads the node's JSON API (the same one the CLI
// reads: /tally/status, /tally/market, /tally/offers, /tally/sessions, /tally/receipts,
// /tally/timeseries, /tally/diagnosis, /tally/balance) and redraws. It talks to its own origin only.

/** how often the page re-reads the API */
const POLL_MS = 2000
/** receipts shown */
const RECEIPTS = 20
const UC_PER_CREDIT = 1000000n

const $ = (sel) => document.querySelector(sel)

/** µc (a number, or a decimal string when beyond 2^53) as credits: 1234567 → "1.234567" */
export function formatCredits (uc) {
  const v = BigInt(uc)
  const neg = v < 0n
  const a = neg ? -v : v
  const frac = (a % UC_PER_CREDIT).toString().padStart(6, '0').replace(/0+$/, '')
  return `${neg ? '-' : ''}${(a / UC_PER_CREDIT).toLocaleString('en-US')}${frac === '' ? '' : '.' + frac}`
}

/** a µc amount for a table cell, in µc (prices are quoted in µc per 1M tokens) */
const formatUc = (uc) => uc == null ? '–' : BigInt(uc).toLocaleString('en-US')

const short = (id) => id == null ? '–' : String(id).length > 14 ? `${String(id).slice(0, 6)}…${String(id).slice(-6)}` : String(id)

/** a parameter count for people: 8000000000 → "8 B", 180000 → "180 K" */
function formatParams (n) {
  if (n == null) return '–'
  const v = Number(n)
  const [div, unit] = v >= 1e9 ? [1e9, 'B'] : v >= 1e6 ? [1e6, 'M'] : v >= 1e3 ? [1e3, 'K'] : [1, '']
  return `${(v / div).toLocaleString('en-US', { maximumFractionDigits: 1 })} ${unit}`.trim()
}

function ago (ms) {
  if (ms == null) return '–'
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 60) return `${s} s`
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`
  const h = Math.floor(s / 3600)
  return h < 48 ? `${h} h ${Math.floor((s % 3600) / 60)} min` : `${Math.floor(h / 24)} d ${h % 24} h`
}

/** the API's bearer token when the node asks for one (401), kept in this tab's session storage */
const TOKEN_KEY = 'tally.apiToken'
let unauthorized = false

/** GET one endpoint; a missing one (older node) or an error reads as null and is reported */
async function get (path, errors) {
  try {
    const token = sessionStorage.getItem(TOKEN_KEY)
    const headers = { accept: 'application/json', ...(token != null ? { authorization: `Bearer ${token}` } : {}) }
    const res = await fetch(path, { headers, cache: 'no-store' })
    if (res.status === 404) return null
    if (res.status === 401) {
      unauthorized = true
      return null
    }
    const body = await res.json()
    if (!res.ok) {
      errors.push(`${path}: ${body?.error?.message ?? res.status}`)
      return null
    }
    return body
  } catch (err) {
    errors.push(`${path}: ${err.message}`)
    return null
  }
}

/** an array answer, bare or wrapped in an object under `key` */
const list = (x, key) => Array.isArray(x) ? x : Array.isArray(x?.[key]) ? x[key] : []

const at = (obj, path) => path.split('.').reduce((o, k) => o?.[k], obj)

function cell (tr, value, opts = {}) {
  const td = document.createElement('td')
  td.textContent = value == null ? '–' : String(value)
  if (opts.right) td.className = 'r'
  if (opts.title != null) td.title = opts.title
  if (opts.cls != null) td.classList.add(opts.cls)
  tr.appendChild(td)
  return td
}

/** replaces a table's rows; `empty` says what an empty table means */
function fill (table, rows, cols, empty) {
  const tbody = table.querySelector('tbody')
  tbody.textContent = ''
  if (rows.length === 0) {
    const tr = document.createElement('tr')
    const td = cell(tr, empty, { cls: 'empty' })
    td.colSpan = table.querySelectorAll('thead th').length
    tbody.appendChild(tr)
    return
  }
  for (const row of rows) {
    const tr = document.createElement('tr')
    for (const c of cols(row)) cell(tr, c.v, c)
    tbody.appendChild(tr)
  }
}

/** the numbers marked data-k="<path>": µc fields (…Uc) as credits with µc in the title */
function renderNumbers (status) {
  for (const el of document.querySelectorAll('[data-k]')) {
    const v = at(status, el.dataset.k)
    if (v == null) { el.textContent = '–'; delete el.dataset.uc; continue }
    if (el.dataset.k.endsWith('Uc')) {
      el.textContent = formatCredits(v)
      el.dataset.uc = String(v)
      el.title = `${formatUc(v)} µc`
      el.classList.toggle('neg', BigInt(v) < 0n)
    } else {
      el.textContent = typeof v === 'boolean' ? (v ? 'yes' : 'no') : Array.isArray(v) ? String(v.length) : String(v)
      el.classList.toggle('bad', (el.dataset.k === 'ledger.forks' || el.dataset.k === 'ledger.flagged') && v !== 0 && v !== false && !(Array.isArray(v) && v.length === 0))
    }
  }
}

function renderHeader (status) {
  $('#account').textContent = status.account ?? '…'
  $('#account').title = status.peerId != null ? `peer ${status.peerId}` : ''
  const net = status.network
  $('#network').textContent = net != null ? `· network ${net.name ?? net.net}${net.development ? ' (development)' : ''}` : ''
  $('#uptime').textContent = status.uptimeMs != null ? `· up ${ago(status.uptimeMs)}` : ''
  const ul = $('#addrs')
  ul.textContent = ''
  for (const a of status.addrs ?? []) {
    const li = document.createElement('li')
    li.textContent = a
    ul.appendChild(li)
  }
  const topics = Object.entries(status.peers?.byTopic ?? {})
  fill($('#topics'), topics, ([t, n]) => [{ v: t }, { v: n, right: true }], 'no topics joined')
}

/** a seller's "why am I not getting jobs" (a node that sells nothing has no such question) */
function renderDiagnosis (checks, selling) {
  const section = $('#diagnosis-section')
  section.hidden = !selling
  const ul = $('#diagnosis')
  ul.textContent = ''
  if (checks.length === 0) {
    const li = document.createElement('li')
    li.textContent = 'no diagnosis available from this node'
    ul.appendChild(li)
    return
  }
  for (const c of checks) {
    const li = document.createElement('li')
    li.className = c.ok ? 'ok' : 'fail'
    li.dataset.check = c.check
    const head = document.createElement('p')
    head.className = 'check'
    const mark = document.createElement('span')
    mark.className = 'mark'
    mark.textContent = c.ok ? '✓' : '✗'
    const name = document.createElement('strong')
    name.textContent = c.check
    head.append(mark, ' ', name, c.detail ? ` — ${c.detail}` : '')
    li.appendChild(head)
    if (!c.ok && c.fix) {
      const fix = document.createElement('p')
      fix.className = 'fix'
      fix.textContent = `Fix: ${c.fix}`
      li.appendChild(fix)
    }
    ul.appendChild(li)
  }
}

function renderTables (status, market, offers, sessions, receipts, now) {
  const selling = status.selling ?? []
  $('#selling-section').hidden = selling.length === 0
  fill($('#selling'), selling, s => [
    { v: s.model },
    { v: formatUc(s.priceInPerMTokUc), right: true },
    { v: formatUc(s.priceOutPerMTokUc), right: true },
    { v: `${s.sessionsOpen ?? 0} / ${s.maxSessions ?? '–'}`, right: true },
    { v: (s.capabilities ?? []).join(', ') }
  ], 'not selling')

  fill($('#market'), market, m => [
    { v: m.model },
    { v: m.offers, right: true },
    { v: m.sellers, right: true },
    { v: formatUc(m.minPriceOutPerMTokUc), right: true },
    { v: formatUc(m.medianPriceOutPerMTokUc), right: true },
    { v: formatUc(m.parPriceOutPerMTokUc), right: true },
    { v: m.mine != null ? formatUc(m.mine.priceOutPerMTokUc) : '–', right: true },
    { v: m.mine != null ? `${m.mine.rank} of ${m.mine.of}` : '–', right: true, cls: m.mine != null && m.mine.rank > 1 ? 'warn' : undefined }
  ], 'no offers seen yet')

  fill($('#offers'), offers, o => [
    { v: o.model },
    { v: short(o.seller), title: o.seller, cls: o.seller === status.account ? 'me' : undefined },
    { v: formatUc(o.priceInPerMTokUc), right: true },
    { v: formatUc(o.priceOutPerMTokUc), right: true },
    { v: o.pricePerBpt != null ? Number(o.pricePerBpt).toLocaleString('en-US', { maximumFractionDigits: 3 }) : '–', right: true },
    { v: formatParams(o.params), right: true }
  ], 'no offers seen yet')

  fill($('#sessions'), sessions, s => [
    { v: s.role },
    { v: s.model },
    { v: short(s.counterparty), title: s.counterparty },
    { v: short(s.contractId), title: s.contractId },
    { v: s.openedAtMs != null ? ago(now - Number(s.openedAtMs)) : '–', right: true },
    { v: s.outputTokens, right: true },
    { v: s.amountUc != null ? formatCredits(s.amountUc) : '–', right: true, title: s.amountUc != null ? `${formatUc(s.amountUc)} µc` : undefined }
  ], 'no live sessions')

  fill($('#receipts'), receipts.slice(0, RECEIPTS), r => [
    { v: r.atMs != null ? new Date(Number(r.atMs)).toLocaleTimeString() : '–', title: r.atMs != null ? new Date(Number(r.atMs)).toISOString() : undefined },
    { v: r.role },
    { v: r.model },
    { v: short(r.counterparty), title: r.counterparty },
    { v: `${r.inputTokens ?? '–'} / ${r.outputTokens ?? '–'}`, right: true },
    { v: r.bpt, right: true },
    { v: r.amountUc != null ? formatCredits(r.amountUc) : '–', right: true, title: r.amountUc != null ? `${formatUc(r.amountUc)} µc` : undefined, cls: r.role === 'seller' ? 'pos' : undefined },
    { v: r.voucher != null ? `${short(r.voucher.id)} · ${formatCredits(r.voucher.cumulativeUc)} cumulative` : '–', title: r.voucher?.id }
  ], 'no receipts yet')
}

// ---- charts: vega-lite specs compiled in the page, drawn by vega's View (no vega-embed) ----

const charts = {}

function lineSpec (yTitle, series, colors) {
  return {
    width: 'container',
    height: 170,
    autosize: { type: 'fit-x', contains: 'padding' },
    data: { name: 'points' },
    mark: { type: 'line', interpolate: 'step-after', strokeWidth: 2 },
    encoding: {
      x: { field: 't', type: 'temporal', title: null, axis: { format: '%H:%M:%S', labelOverlap: true } },
      y: { field: 'credits', type: 'quantitative', title: yTitle },
      color: { field: 'series', type: 'nominal', title: null, legend: { orient: 'top' }, scale: { domain: series, range: colors } },
      tooltip: [{ field: 'series' }, { field: 't', type: 'temporal', format: '%H:%M:%S' }, { field: 'credits', format: ',.6f' }]
    },
    config: { view: { stroke: null }, axis: { grid: true, gridColor: '#eef0f3' } }
  }
}

async function chart (id, yTitle, series, colors, rows) {
  if (globalThis.vega == null || globalThis.vegaLite == null) return
  let view = charts[id]
  if (view == null) {
    const spec = globalThis.vegaLite.compile(lineSpec(yTitle, series, colors)).spec
    view = new globalThis.vega.View(globalThis.vega.parse(spec), { renderer: 'svg', container: `#${id}`, hover: true })
    charts[id] = view
  }
  await view.change('points', globalThis.vega.changeset().remove(() => true).insert(rows)).runAsync()
}

/** chart rows in credits (display only; the page's money figures are the exact µc above) */
const credits = (uc) => Number(BigInt(uc)) / 1e6

async function renderCharts (points, status, now) {
  const pts = points.slice()
  // the latest figures as a last point, so the lines reach "now"
  if (status.balance?.balanceUc != null) pts.push({ tMs: now, balanceUc: status.balance.balanceUc, earnedUc: status.balance.earnedUc, spentUc: status.balance.spentUc })
  const bal = []
  const flow = []
  for (const p of pts) {
    const t = Number(p.tMs)
    if (p.balanceUc != null) bal.push({ t, series: 'balance', credits: credits(p.balanceUc) })
    if (p.earnedUc != null) flow.push({ t, series: 'earned', credits: credits(p.earnedUc) })
    if (p.spentUc != null) flow.push({ t, series: 'spent', credits: credits(p.spentUc) })
  }
  await chart('chart-balance', 'credits', ['balance'], ['#2563eb'], bal)
  await chart('chart-flow', 'credits', ['earned', 'spent'], ['#16a34a', '#dc2626'], flow)
}

// ---- the loop ----

let rounds = 0
/** the balance series read so far: the first round reads it whole, later rounds what is newer */
const series = []
/** points kept in the page, as many as the node keeps (24 h at its 10 s period) */
const MAX_POINTS = 10000

async function newPoints (errors) {
  const last = series[series.length - 1]
  const got = list(await get(last == null ? '/tally/timeseries' : `/tally/timeseries?sinceMs=${Number(last.tMs) + 1}`, errors), 'points')
  series.push(...got)
  if (series.length > MAX_POINTS) series.splice(0, series.length - MAX_POINTS)
}

function askToken () {
  const form = $('#auth')
  const hadToken = sessionStorage.getItem(TOKEN_KEY) != null
  form.hidden = false
  $('#auth-error').textContent = hadToken ? 'the node refused this token' : ''
}

$('#auth').addEventListener('submit', (e) => {
  e.preventDefault()
  const token = $('#token').value.trim()
  if (token === '') return
  sessionStorage.setItem(TOKEN_KEY, token)
  $('#token').value = ''
  $('#auth').hidden = true
  refreshOnce().catch(err => { $('#errors').textContent = `refresh failed: ${err.message}` })
})

async function refresh () {
  const errors = []
  unauthorized = false
  const [status, market, offers, sessions, receipts, , diagnosis] = await Promise.all([
    get('/tally/status', errors),
    get('/tally/market', errors),
    get('/tally/offers', errors),
    get('/tally/sessions', errors),
    get(`/tally/receipts?limit=${RECEIPTS}`, errors),
    newPoints(errors),
    get('/tally/diagnosis', errors)
  ])
  if (unauthorized) {
    askToken()
    $('#updated').textContent = 'waiting for the token'
    return
  }
  $('#auth').hidden = true
  const now = Date.now()
  // a node without /tally/status (an older one) still answers /tally/balance
  const balance = status == null ? await get('/tally/balance', errors) : null
  const st = status ?? { account: balance?.account, balance: balance ?? undefined }
  renderHeader(st)
  renderNumbers(st)
  renderDiagnosis(list(diagnosis, 'checks'), (st.selling ?? []).length > 0)
  renderTables(st, list(market, 'models'), list(offers, 'offers'), list(sessions, 'sessions'), list(receipts, 'receipts'), now)
  try {
    await renderCharts(series, st, now)
  } catch (err) {
    errors.push(`charts: ${err.message}`)
  }
  rounds++
  document.body.dataset.rounds = String(rounds)
  $('#updated').textContent = `updated ${new Date(now).toLocaleTimeString()}`
  $('#live-dot').classList.toggle('down', errors.length > 0 && status == null && balance == null)
  $('#errors').textContent = errors.join(' · ')
}

/** one refresh at a time (the loop's and a submitted token's share it) */
let running = null
function refreshOnce () {
  running ??= refresh().finally(() => { running = null })
  return running
}

async function loop () {
  try {
    await refreshOnce()
  } catch (err) {
    $('#errors').textContent = `refresh failed: ${err.message}`
  }
  setTimeout(loop, POLL_MS)
}

loop()
