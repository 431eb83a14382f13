/**
 * The dashboard at `/` in a real browser (Debian's chromium driven by playwright-core) against
 * real nodes: two sellers of the embedded tiny model at different prices and a buyer, each with
 * its own API server. The buyer's page shows the numbers of its JSON API and follows them after a
 * paid request; the expensive seller's page names its price as the reason it gets no jobs.
 * With UPDATE_SCREENSHOT=1 the buyer's page is saved as docs/dashboard.png (README).
 */
import { afterAll, describe, expect, it } from 'vitest'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { createTallyNode, type SellInit, type TallyNode } from '../../src/node/tally.js'
import { parseConfig } from '../../src/node/config.js'
import { startGateway, type Gateway } from '../../src/api/gateway.js'
import { DASHBOARD_CSP } from '../../src/api/dashboard.js'
import { createEmbeddedBackend } from '../../src/exec/backends/embedded/index.js'
import { ensureTinyModel } from '../../src/exec/model/tiny.js'
import { waitFor } from '../helpers/wait.js'

/** Debian's package; CI (.ci/run) installs it when missing, this test never downloads a browser */
const CHROMIUM = '/usr/bin/chromium'
const MODEL = 'tiny-char-v1'
const CHEAP_OUT_UC = 2_000_000n
const DEAR_OUT_UC = 9_000_000n

/** endpoints the page reads that this node may not serve yet (it shows '–' for them) */
const OPTIONAL: string[] = []

interface Running { node: TallyNode, api: Gateway }

const dirs: string[] = []
const running: Running[] = []
/** API servers started by a test beside the nodes' own */
const extraApis: Gateway[] = []
let browser: Browser
let buyer: Running
let dear: Running
let shotDir: string

async function start (sell: SellInit | undefined, bootstrap: string[]): Promise<Running> {
  const dataDir = await mkdtemp(join(tmpdir(), 'tally-dash-'))
  dirs.push(dataDir)
  const node = await createTallyNode(parseConfig({ dataDir, transport: 'memory', bootstrap }), { memoryLedger: true, sell })
  await node.start()
  const api = await startGateway(node, { port: 0 })
  const r = { node, api }
  running.push(r)
  return r
}

async function json (r: Running, path: string): Promise<any> {
  const res = await fetch(`${r.api.url}${path}`)
  expect(res.status, path).toBe(200)
  return await res.json()
}

/** opens a node's page, failing the test on any script error or request to another origin */
async function open (r: Running): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } })
  const problems: string[] = []
  page.on('pageerror', e => problems.push(`page error: ${e.message}`))
  // a failed fetch shows as a response below; its console echo says no more
  page.on('console', m => { if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(`console error: ${m.text()}`) })
  page.on('response', res => { if (res.status() >= 400 && !OPTIONAL.some(p => res.url().startsWith(`${r.api.url}${p}`))) problems.push(`${res.status()} from ${res.url()}`) })
  page.on('request', req => { if (!req.url().startsWith(`${r.api.url}/`)) problems.push(`request to another origin: ${req.url()}`) })
  ;(page as any).problems = problems
  await page.goto(`${r.api.url}/`)
  // the first refresh is done once the page counts a round
  await page.waitForFunction('Number(document.body.dataset.rounds ?? 0) >= 1')
  return page
}

const problemsOf = (page: Page): string[] => (page as any).problems

/** every µc figure the page marks with data-k, by its path in /tally/status */
async function shownUc (page: Page): Promise<Record<string, string>> {
  return await page.$$eval('[data-k][data-uc]', (els: any[]) => Object.fromEntries(els.map(e => [e.dataset.k, e.dataset.uc])))
}

/** the page re-reads the API every 2 s: a few rounds on two loaded cores */
const PAGE = { timeout: 15_000, interval: 100 }

const at = (obj: any, path: string): unknown => path.split('.').reduce((o, k) => o?.[k], obj)

let started: Promise<void> | undefined

/** the market, started by the first test that needs it and shared by the file's tests */
async function market (): Promise<void> {
  started ??= (async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium); this test never downloads a browser`)
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })
    shotDir = await mkdtemp(join(tmpdir(), 'tally-dash-shot-'))
    dirs.push(shotDir)
    const modelPath = ensureTinyModel()
    const [cheapBackend, dearBackend] = await Promise.all([createEmbeddedBackend({ modelPath }), createEmbeddedBackend({ modelPath })])
    const cheap = await start({ backend: cheapBackend, priceInPerMTokUc: 1_000_000n, priceOutPerMTokUc: CHEAP_OUT_UC }, [])
    dear = await start({ backend: dearBackend, priceInPerMTokUc: 1_000_000n, priceOutPerMTokUc: DEAR_OUT_UC }, cheap.node.addrs())
    buyer = await start(undefined, cheap.node.addrs())
  })()
  await started
  await waitFor(() => buyer.node.offerList(MODEL).length === 2 && dear.node.offerList(MODEL).length === 2, 'both offers in the buyer\'s and the dear seller\'s books')
}

afterAll(async () => {
  await browser?.close()
  const all = running.splice(0)
  await Promise.all([...all.map(r => r.api), ...extraApis.splice(0)].map(async a => await a.close()))
  await Promise.all(all.map(async r => await r.node.stop().catch(() => {})))
  await Promise.all(dirs.splice(0).map(async d => await rm(d, { recursive: true, force: true })))
})

describe('the dashboard in chromium', () => {
  it('serves its files with their content types and a same-origin policy', async () => {
    await market()
    for (const [path, type] of [['/', 'text/html'], ['/dashboard/app.js', 'text/javascript'], ['/dashboard/style.css', 'text/css'], ['/dashboard/vendor/vega.min.js', 'text/javascript'], ['/dashboard/vendor/vega-lite.min.js', 'text/javascript']]) {
      const res = await fetch(`${buyer.api.url}${path}`)
      expect(res.status, path).toBe(200)
      expect(res.headers.get('content-type'), path).toContain(type)
      expect(res.headers.get('content-security-policy'), path).toBe(DASHBOARD_CSP)
      expect(res.headers.get('x-content-type-options'), path).toBe('nosniff')
    }
    // the API server's guards cover the page: another site's Host is refused (DNS rebinding)
    const port = new URL(buyer.api.url).port
    const { request } = await import('node:http')
    const status = await new Promise<number>((resolve, reject) => {
      request({ host: '127.0.0.1', port, path: '/', headers: { host: `evil.example:${port}` } }, res => { res.resume(); resolve(res.statusCode ?? 0) }).on('error', reject).end()
    })
    expect(status).toBe(421)
  })

  it("the buyer's page shows its API's numbers and follows them after a paid request", async () => {
    await market()
    const page = await open(buyer)
    const before = await json(buyer, '/tally/status')
    const shown = await shownUc(page)
    expect(Object.keys(shown).sort()).toEqual(['balance.availableUc', 'balance.balanceUc', 'balance.creditLimitUc', 'balance.earnedUc', 'balance.lockedUc', 'balance.spentUc'])
    for (const [k, v] of Object.entries(shown)) expect(v, k).toBe(String(at(before, k)))
    expect(await page.textContent('#account')).toBe(before.account)
    expect(await page.textContent('[data-k="peers.connected"]')).toBe(String(before.peers.connected))
    expect(await page.textContent('[data-k="ledger.records"]')).toBe(String(before.ledger.records))
    // the market as /tally/market has it: one model, both offers, the cheapest price
    const [row] = await json(buyer, '/tally/market')
    await expect.poll(async () => await page.$$eval('#market tbody tr td', (tds: any[]) => tds.slice(0, 4).map(td => td.textContent)), PAGE)
      .toEqual([MODEL, String(row.offers), String(row.sellers), BigInt(row.minPriceOutPerMTokUc).toLocaleString('en-US')])
    expect(row).toMatchObject({ model: MODEL, offers: 2, sellers: 2, minPriceOutPerMTokUc: Number(CHEAP_OUT_UC) })
    expect(await page.$$eval('#offers tbody tr', (trs: any[]) => trs.length)).toBe(2)
    // a buyer has no "why am I not getting jobs"
    expect(await page.isVisible('#diagnosis-section')).toBe(false)

    await buyer.node.infer(MODEL, { messages: [{ role: 'user', content: 'Who is Alice?' }], maxTokens: 20, seed: 1 })
    await buyer.node.closeSessions()
    // the settle lands: the spend shows in the API, then on the page, to the same figures
    await waitFor(async () => BigInt((await json(buyer, '/tally/status')).balance.spentUc) > BigInt(before.balance.spentUc), 'the settle in the buyer\'s ledger')
    const after = await json(buyer, '/tally/status')
    expect(BigInt(after.balance.balanceUc)).toBeLessThan(BigInt(before.balance.balanceUc))
    await expect.poll(async () => await shownUc(page), PAGE).toEqual(Object.fromEntries(Object.keys(shown).map(k => [k, String(at(after, k))])))
    // the receipt of the purchase, with its voucher, as /tally/receipts has it
    const [receipt] = await json(buyer, '/tally/receipts?limit=20')
    await expect.poll(async () => await page.$$eval('#receipts tbody tr:first-child td', (tds: any[]) => tds.map(td => td.textContent)), PAGE)
      .toEqual(expect.arrayContaining([receipt.role, receipt.model, `${receipt.inputTokens} / ${receipt.outputTokens}`, receipt.bpt]))
    // the charts are drawn (vega's SVG renderer)
    expect(await page.$$eval('.chart svg', s => s.length)).toBe(2)

    // a narrow window still shows every section without a horizontal scroll of the page
    await page.setViewportSize({ width: 320, height: 900 })
    // (the charts follow the window's width on vega's resize listener, a moment later)
    await expect.poll(async () => await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth && [...document.querySelectorAll(".chart svg")].every(s => s.getBoundingClientRect().right <= window.innerWidth)'), PAGE).toBe(true)
    await page.setViewportSize({ width: 1200, height: 900 })
    const shot = process.env.UPDATE_SCREENSHOT === '1' ? 'docs/dashboard.png' : join(shotDir, 'dashboard.png')
    await page.screenshot({ path: shot, fullPage: true })
    expect(existsSync(shot)).toBe(true)
    expect(problemsOf(page)).toEqual([])
    await page.close()
  })

  it("the dear seller's page names its price as the reason it gets no jobs, with the fix", async () => {
    await market()
    const checks = await json(dear, '/tally/diagnosis') as Array<{ check: string, ok: boolean, detail: string, fix: string }>
    const price = checks.find(c => c.check === 'price-rank')
    expect(price).toMatchObject({ ok: false })
    const page = await open(dear)
    expect(await page.isVisible('#diagnosis-section')).toBe(true)
    // every check as the API has it: failing ones with their fix
    const shown = await page.$$eval('#diagnosis li', (lis: any[]) => lis.map(li => ({ check: li.dataset.check, failing: li.classList.contains('fail'), text: li.textContent })))
    expect(shown.map(c => c.check)).toEqual(checks.map(c => c.check))
    for (const c of checks) {
      const li = shown.find(x => x.check === c.check)
      expect(li?.failing, c.check).toBe(!c.ok)
      expect(li?.text, c.check).toContain(c.detail)
      if (!c.ok) expect(li?.text, c.check).toContain(`Fix: ${c.fix}`)
    }
    expect(shown.find(c => c.check === 'price-rank')?.text).toContain(`${DEAR_OUT_UC} µc per 1M output tokens ranks 2 of 2`)
    // its market row: its own price and its rank
    const cells = await page.$$eval('#market tbody tr td', (tds: any[]) => tds.map(td => td.textContent))
    expect(cells.slice(-2)).toEqual([DEAR_OUT_UC.toLocaleString('en-US'), '2 of 2'])
    expect(await page.isVisible('#selling-section')).toBe(true)
    expect(problemsOf(page)).toEqual([])
    await page.close()
  })

  it('behind a bearer token: the page loads without it, asks for it, then shows the node', async () => {
    await market()
    const token = 'dashboard-test-token-0123456789'
    const auth = { authorization: `Bearer ${token}` }
    // an address beyond loopback needs a token; the browser reaches it through loopback
    const api = await startGateway(buyer.node, { host: '0.0.0.0', port: 0, token })
    extraApis.push(api)
    const url = `http://127.0.0.1:${new URL(api.url).port}`
    expect((await fetch(`${url}/`)).status).toBe(200)
    expect((await fetch(`${url}/dashboard/app.js`)).status).toBe(200)
    expect((await fetch(`${url}/tally/status`)).status).toBe(401)
    expect((await fetch(`${url}/metrics`)).status).toBe(401)
    const page = await browser.newPage()
    await page.goto(`${url}/`)
    await page.waitForSelector('#auth', { state: 'visible' })
    await page.fill('#token', 'not-the-token')
    await page.click('#auth button')
    await expect.poll(async () => await page.textContent('#auth-error'), PAGE).toBe('the node refused this token')
    await page.fill('#token', token)
    await page.click('#auth button')
    const status: any = await (await fetch(`${url}/tally/status`, { headers: auth })).json()
    await expect.poll(async () => (await shownUc(page))['balance.creditLimitUc'], PAGE).toBe(String(status.balance.creditLimitUc))
    expect(await page.textContent('#account')).toBe(status.account)
    expect(await page.isVisible('#auth')).toBe(false)
    await page.close()
  })
})
