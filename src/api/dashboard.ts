/**
 * The dashboard at `/`: static files shipped in the package (web/dashboard) and vega's and
 * vega-lite's browser builds from their installed packages, served with their content types.
 * The page reads the node's own /tally/* JSON, the API the CLI reads; nothing is inlined.
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'

/** web/dashboard from src/api (tsx, tests) and from dist/api (the package): both two levels down */
const WEB_DIR = fileURLToPath(new URL('../../web/dashboard/', import.meta.url))

/**
 * The page loads scripts, styles and JSON from its own origin only. vega compiles its
 * expressions with `new Function`, hence 'unsafe-eval'; vega's SVG renderer sets inline styles.
 */
export const DASHBOARD_CSP = "default-src 'none'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

interface Asset { path: string, type: string, file: () => string }

const require = createRequire(import.meta.url)
/** a browser build beside a package's resolved entry (vega/vega-lite export only their ESM entry) */
const besideEntry = (pkg: string, file: string) => () => join(dirname(require.resolve(pkg)), file)

/** every file the dashboard serves, by URL */
export const DASHBOARD_ASSETS: readonly Asset[] = [
  { path: '/', type: 'text/html; charset=utf-8', file: () => join(WEB_DIR, 'index.html') },
  { path: '/dashboard/app.js', type: 'text/javascript; charset=utf-8', file: () => join(WEB_DIR, 'app.js') },
  { path: '/dashboard/style.css', type: 'text/css; charset=utf-8', file: () => join(WEB_DIR, 'style.css') },
  { path: '/dashboard/vendor/vega.min.js', type: 'text/javascript; charset=utf-8', file: besideEntry('vega', 'vega.min.js') },
  { path: '/dashboard/vendor/vega-lite.min.js', type: 'text/javascript; charset=utf-8', file: besideEntry('vega-lite', 'vega-lite.min.js') }
]

function serve (reply: FastifyReply, asset: Asset, body: Buffer): FastifyReply {
  return reply
    .header('content-type', asset.type)
    .header('x-content-type-options', 'nosniff')
    .header('content-security-policy', DASHBOARD_CSP)
    .header('referrer-policy', 'no-referrer')
    // the files change only with the package; revalidating each load keeps an upgrade visible
    .header('cache-control', 'no-cache')
    .send(body)
}

const DASHBOARD_PATHS: ReadonlySet<string> = new Set(DASHBOARD_ASSETS.map(a => a.path))

/**
 * A GET of one of the dashboard's files, which hold no secret: a server that wants a bearer token
 * lets a browser load the page without one (a navigation cannot send it), and the page then
 * sends the token the user types with every API call.
 */
export function isDashboardFile (req: FastifyRequest): boolean {
  return (req.method === 'GET' || req.method === 'HEAD') && DASHBOARD_PATHS.has(req.routeOptions.url ?? '')
}

/** registers `/` and `/dashboard/*` on the API server (its Host and Origin guards apply; see isDashboardFile for the token) */
export function dashboardRoutes (app: FastifyInstance): void {
  // each file is read on first request and kept: the page is static for the process's life
  const cache = new Map<string, Buffer>()
  for (const asset of DASHBOARD_ASSETS) {
    app.get(asset.path, async (_req, reply) => {
      let body = cache.get(asset.path)
      if (body == null) {
        body = readFileSync(asset.file())
        cache.set(asset.path, body)
      }
      return serve(reply, asset, body)
    })
  }
}
