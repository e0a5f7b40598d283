import { existsSync, promises as fs } from 'node:fs'
import { extname, join, resolve, sep } from 'node:path'
import type { Context, Next } from 'koa'

/** Where the dashboard is served. */
export const DASHBOARD_PATH = '/dashboard'

/**
 * The dashboard's Content-Security-Policy: its own scripts and styles only (no inline script, no eval),
 * API calls to this origin only, no framing, no forms posting elsewhere, no plugins.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ')

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
}

/**
 * The folder the dashboard was built into (`dist/dashboard`, written by `npm run build` through Vite),
 * seen from this file compiled (dist/src/adapters/http) or run from source (src/adapters/http).
 */
export function defaultDashboardDir(): string {
  const compiled = resolve(__dirname, '..', '..', '..', 'dashboard')
  const source = resolve(__dirname, '..', '..', '..', 'dist', 'dashboard')
  return existsSync(join(compiled, 'index.html')) ? compiled : source
}

const NOT_BUILT = `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>qunyun</title></head>
<body><h1>控制台尚未构建 / Dashboard not built</h1><p>运行 <code>npm run build</code>（或 <code>npm start</code>，会在需要时自动构建）。</p>
<p>Run <code>npm run build</code> (or <code>npm start</code>, which builds when needed).</p></body></html>`

/**
 * Serves the built dashboard (static files) at /dashboard: hashed assets cached for a year, the page
 * itself never cached, every answer with the dashboard's CSP. Any other path under /dashboard/ that is
 * not a file gets the page (the app routes in the URL fragment, so tokens never reach a URL or a log).
 * Only files inside `dir` are ever read.
 */
export function dashboardMiddleware(dir: string): (ctx: Context, next: Next) => Promise<void> {
  const root = resolve(dir)
  return async (ctx, next) => {
    if (ctx.path !== DASHBOARD_PATH && !ctx.path.startsWith(`${DASHBOARD_PATH}/`)) return next()
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      ctx.set('Allow', 'GET, HEAD')
      ctx.status = 405
      ctx.body = { error: { code: 'method_not_allowed', message: 'the dashboard is read-only', details: [], requestId: ctx.state.requestId as string } }
      return
    }
    if (ctx.path === DASHBOARD_PATH) {
      ctx.redirect(`${DASHBOARD_PATH}/`)
      return
    }
    ctx.set('Content-Security-Policy', DASHBOARD_CSP)
    let relative: string
    try { relative = decodeURIComponent(ctx.path.slice(DASHBOARD_PATH.length + 1)) } catch {
      ctx.status = 400
      ctx.body = { error: { code: 'bad_request', message: 'malformed path', details: [], requestId: ctx.state.requestId as string } }
      return
    }
    const file = relative === '' ? null : resolve(root, relative)
    if (file !== null && (relative.includes('\0') || !file.startsWith(root + sep))) {
      ctx.status = 404
      return
    }
    if (file !== null) {
      const stat = await fs.stat(file).catch(() => null)
      if (stat?.isFile()) {
        ctx.type = TYPES[extname(file)] ?? 'application/octet-stream'
        // Vite names assets after their content hash: safe to cache for good.
        ctx.set('Cache-Control', relative.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache')
        ctx.length = stat.size
        ctx.body = await fs.readFile(file)
        return
      }
      // A missing asset is a 404, not the page (a stale cached page must not get HTML for its script).
      if (relative.startsWith('assets/') || extname(relative) !== '') {
        ctx.status = 404
        return
      }
    }
    const page = await fs.readFile(join(root, 'index.html')).catch(() => null)
    ctx.type = 'html'
    ctx.set('Cache-Control', 'no-store')
    if (!page) {
      ctx.status = 503
      ctx.body = NOT_BUILT
      return
    }
    ctx.body = page
  }
}
