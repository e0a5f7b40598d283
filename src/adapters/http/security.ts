import type { Context, Next } from 'koa'

/** Security headers for a JSON API (the docs page relaxes the CSP for itself). */
export function applySecurityHeaders(ctx: Context): void {
  ctx.set('X-Content-Type-Options', 'nosniff')
  ctx.set('X-Frame-Options', 'DENY')
  ctx.set('Referrer-Policy', 'no-referrer')
  ctx.set('Cross-Origin-Resource-Policy', 'same-origin')
  ctx.set('Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'")
  ctx.set('Cache-Control', 'no-store')
  ctx.remove('X-Powered-By')
}

const ALLOWED_METHODS = 'GET, POST, PUT, PATCH, DELETE'
const ALLOWED_HEADERS = 'Authorization, Content-Type, X-Request-Id'

/**
 * CORS with an explicit allowlist: off (no headers at all) unless the request's Origin is listed exactly.
 * Never reflects an arbitrary origin and never answers with a wildcard.
 */
export function corsMiddleware(origins: readonly string[]): (ctx: Context, next: Next) => Promise<void> {
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
