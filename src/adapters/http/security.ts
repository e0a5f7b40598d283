import type { Context, Next } from 'koa'

const SECURITY_HEADERS: ReadonlyArray<readonly [string, string]> = [
  ['X-Content-Type-Options', 'nosniff'],
  ['X-Frame-Options', 'DENY'],
  ['Referrer-Policy', 'no-referrer'],
  ['Cross-Origin-Resource-Policy', 'same-origin'],
  ['Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'"],
  ['Cache-Control', 'no-store'],
]

/** Security headers for a JSON API (the docs page relaxes the CSP for itself). */
export function applySecurityHeaders(ctx: Context): void {
  // Straight on the Node response: Koa's ctx.set allocates per call, and this runs on every request.
  for (const [name, value] of SECURITY_HEADERS) ctx.res.setHeader(name, value)
}

const ALLOWED_METHODS = 'GET, POST, PUT, PATCH, DELETE'
const ALLOWED_HEADERS = 'Authorization, Content-Type, X-Request-Id'

/**
 * CORS with an explicit allowlist: off (no headers at all) unless the request's Origin is listed exactly.
 * Never reflects an arbitrary origin and never answers with a wildcard.
 */
export function corsMiddleware(origins: readonly string[]): ((ctx: Context, next: Next) => Promise<void>) | null {
  // No origins configured: no middleware at all (nothing to add, not even Vary).
  if (origins.length === 0) return null
  const allowed = new Set(origins)
  return async (ctx, next) => {
    const origin = ctx.get('origin')
    ctx.vary('Origin')
    if (!origin || !allowed.has(origin)) {
      await next()
      return
    }
    ctx.set('Access-Control-Allow-Origin', origin)
    ctx.set('Access-Control-Expose-Headers', 'X-Request-Id, Retry-After')
    if (ctx.method === 'OPTIONS' && ctx.get('access-control-request-method')) {
      ctx.set('Access-Control-Allow-Methods', ALLOWED_METHODS)
      ctx.set('Access-Control-Allow-Headers', ALLOWED_HEADERS)
      ctx.set('Access-Control-Max-Age', '600')
      ctx.status = 204
      return
    }
    await next()
  }
}
