import { Readable } from 'node:stream'
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto'
import Koa, { type Context, type Next } from 'koa'
import Router from '@koa/router'
import type { ZodType } from 'zod'
import { canSeeOwned, type Principal } from '../../kernel/auth'
import { groupNotFound, HttpError, ownedNotFound, RawJson, StreamedBody, type AuditSummary, type ErrorDetail, type RouteDefinition } from '../../kernel/routes'
import { errorText, lazyChild, type Logger } from '../../kernel/logger'
import type { BucketSpec, RateLimiter } from '../../ports/ports'
import type { Clock } from '../../ports/clock'
import { applySecurityHeaders, corsMiddleware } from './security'
import { buildOpenApi, DOCS_HTML, type WebhookDoc } from './openapi'
import { dashboardMiddleware, defaultDashboardDir } from './dashboard'

/** A readiness probe: name → check that resolves true when healthy. */
export type ReadinessChecks = Record<string, () => Promise<boolean>>

/** Turns a bearer token into a caller (TokenStore implements it). */
export interface Authenticator {
  authenticate(token: string): Promise<Principal | null>
}

/** Where successful changes are recorded (AuditLog implements it). */
export interface AuditSink {
  append(entry: { at: number; principal: Principal | null; method: string; route: string; path: string; status: number; requestId: string; summary: AuditSummary | null; groupId: string | null }): Promise<void>
}

/** Rate limits of the API, as token buckets. */
export interface ApiRateLimits {
  perToken: BucketSpec
  perIp: BucketSpec
  failedAuthPerIp: BucketSpec
  tokenCreation: BucketSpec
}

/**
 * A raw endpoint outside the JSON API (platform callbacks): it reads the body as text and answers text.
 * It authenticates the caller itself (e.g. by the platform's signature), so it carries no API token.
 */
export interface WebhookEndpoint {
  method: 'GET' | 'POST'
  path: string
  /** Largest body accepted, in bytes. */
  bodyLimit: number
  /** How the OpenAPI document describes it. */
  doc?: WebhookDoc
  handle(input: { params: Record<string, string>; query: Record<string, string | string[] | undefined>; body: string; ip: string; method: string }): Promise<{ status: number; body: string }>
}

/** Options of the admin HTTP app. */
export interface HttpAppOptions {
  routes: RouteDefinition[]
  readiness: ReadinessChecks
  log: Logger
  auth: Authenticator
  audit: AuditSink
  rateLimiter: RateLimiter
  limits: ApiRateLimits
  clock: Clock
  bodyLimit: number
  corsOrigins: string[]
  trustProxy: boolean
  /** Prometheus exposition at /metrics; with a token, only for `Authorization: Bearer <token>`. */
  metrics?: { render: () => Promise<{ contentType: string; body: string }>; token: string | null }
  /** Folder of the built dashboard served at /dashboard (default: dist/dashboard); null serves none. */
  dashboardDir?: string | null
  /** Platform callbacks (e.g. /wecom/callback/:botId). */
  webhooks?: WebhookEndpoint[]
}

const REQUEST_ID = /^[A-Za-z0-9._-]{8,64}$/

/** Writes the uniform error body. */
function sendError(ctx: Context, status: number, code: string, message: string, details: ErrorDetail[] = []): void {
  ctx.status = status
  ctx.body = { error: { code, message, details, requestId: ctx.state.requestId as string } }
}

/** Reads a JSON body up to `limit` bytes. */
async function readJson(ctx: Context, limit: number): Promise<unknown> {
  const length = Number(ctx.get('content-length') || 0)
  if (length > limit) throw new HttpError(413, 'payload_too_large', `body larger than ${limit} bytes`)
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length
    if (size > limit) throw new HttpError(413, 'payload_too_large', `body larger than ${limit} bytes`)
    chunks.push(chunk as Buffer)
  }
  if (size === 0) return undefined
  if (!/^application\/json\b/i.test(ctx.get('content-type'))) throw new HttpError(415, 'unsupported_media_type', 'send the body as application/json')
  try { return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown } catch {
    throw new HttpError(400, 'invalid_json', 'body is not valid JSON')
  }
}

/** Parses one part of the input with its schema, turning problems into a 400 with details. */
function parsePart<T>(schema: ZodType<T> | undefined, value: unknown, part: 'params' | 'query' | 'body'): T {
  if (!schema) {
    if (part === 'body' && value !== undefined) throw new HttpError(400, 'unexpected_body', 'this route takes no body')
    if (part === 'query' && value && Object.keys(value).length > 0) {
      throw new HttpError(400, 'invalid_input', 'invalid query', Object.keys(value).map((k) => ({ path: `query.${k}`, message: 'unknown parameter' })))
    }
    return (part === 'body' ? undefined : {}) as T
  }
  if (part === 'body' && value === undefined) throw new HttpError(400, 'invalid_input', 'a JSON body is required', [{ path: 'body', message: 'required' }])
  // A JSON `null` body is validated as null (and refused by object schemas), never read as `{}` (all defaults).
  const parsed = schema.safeParse(part === 'body' ? value : value ?? {})
  if (parsed.success) return parsed.data
  throw new HttpError(400, 'invalid_input', `invalid ${part}`, parsed.error.issues.map((i) => ({ path: [part, ...i.path.map(String)].join('.'), message: i.message })))
}

/** Rejects with 429 and Retry-After when the bucket is empty. */
async function limit(ctx: Context, limiter: RateLimiter, key: string, spec: BucketSpec, what: string): Promise<void> {
  const decision = await limiter.take(key, spec)
  if (decision.allowed) return
  const seconds = Math.max(1, Math.ceil(decision.retryAfterMs / 1000))
  ctx.set('Retry-After', String(seconds))
  throw new HttpError(429, 'rate_limited', `too many requests (${what}); retry in ${seconds} s`)
}

/** Verifies `route` declares its access; a route without one must never be mounted. */
export function assertDeclaredAccess(route: RouteDefinition): void {
  const access = (route as Partial<RouteDefinition>).access
  if (!access || (access.roles !== 'public' && (!Array.isArray(access.roles) || access.roles.length === 0)) || typeof access.mutates !== 'boolean') {
    throw new Error(`route ${route.method} ${route.path} has no declared access (roles + mutates)`)
  }
  if (access.groupParam && !route.path.includes(`:${access.groupParam}`)) {
    throw new Error(`route ${route.method} ${route.path}: groupParam "${access.groupParam}" is not a path parameter`)
  }
  if (access.mutates && access.roles === 'public') throw new Error(`route ${route.method} ${route.path}: a public route cannot change state`)
  if (access.owned?.param !== undefined) {
    if (!route.path.includes(`:${access.owned.param}`)) throw new Error(`route ${route.method} ${route.path}: owned param "${access.owned.param}" is not a path parameter`)
    if (typeof route.findOwned !== 'function') throw new Error(`route ${route.method} ${route.path}: owned param "${access.owned.param}" needs findOwned`)
  }
}

/**
 * The admin API: request ids, security headers, CORS allowlist, per-IP and per-token rate limits, bearer
 * authentication, authorization declared on each route and enforced here in one place (role, group scope
 * → 404 outside it, owned objects → 404 to all but their owner and admins, operators never mutate), zod
 * validation of params, query and body, an audit entry for every change, JSON errors
 * `{ error: { code, message, details } }` (4xx for bad input, never a stack trace), /healthz, /readyz,
 * the OpenAPI document, a docs page and the dashboard's static files (/dashboard).
 */
export function createHttpApp(options: HttpAppOptions): Koa {
  const app = new Koa({ proxy: options.trustProxy })
  // Routes are split into small routers by resource and sub-resource (see bucketOf), so a request tests
  // a handful of route patterns instead of every mounted route.
  const buckets = new Map<string, Router>()
  const routerFor = (path: string): Router => {
    const key = bucketOf(path)
    let r = buckets.get(key)
    if (!r) buckets.set(key, (r = new Router()))
    return r
  }
  const { log, rateLimiter, limits } = options
  const routes = [...options.routes]
  for (const route of routes) assertDeclaredAccess(route)

  app.use(async (ctx: Context, next: Next) => {
    const incoming = ctx.get('x-request-id')
    ctx.state.requestId = REQUEST_ID.test(incoming) ? incoming : randomUUID()
    ctx.set('X-Request-Id', ctx.state.requestId as string)
    applySecurityHeaders(ctx)
    const started = process.hrtime.bigint()
    try {
      await limit(ctx, rateLimiter, `api:ip:${ctx.ip}`, limits.perIp, 'per address')
      await next()
      if (ctx.status === 404 && ctx.body === undefined) sendError(ctx, 404, 'not_found', `no route for ${ctx.method} ${ctx.path}`)
    } catch (error) {
      if (error instanceof HttpError) sendError(ctx, error.status, error.code, error.message, error.details)
      else {
        const status = (error as { status?: number }).status
        if (typeof status === 'number' && status >= 400 && status < 500) {
          sendError(ctx, status, status === 405 ? 'method_not_allowed' : status === 501 ? 'not_implemented' : 'bad_request', (error as Error).message)
        } else {
          log.error('admin API request failed', { requestId: ctx.state.requestId, method: ctx.method, path: logPath(ctx.path), error: errorText(error) })
          sendError(ctx, 500, 'internal', 'internal error; quote the request id when reporting it')
        }
      }
    } finally {
      log.debug('http', { requestId: ctx.state.requestId, method: ctx.method, path: logPath(ctx.path), status: ctx.status, ms: Number(process.hrtime.bigint() - started) / 1e6 })
    }
  })
  const cors = corsMiddleware(options.corsOrigins)
  if (cors) app.use(cors)

  if (options.dashboardDir !== null) app.use(dashboardMiddleware(options.dashboardDir ?? defaultDashboardDir()))

  routerFor('/healthz').get('/healthz', (ctx) => { ctx.body = { status: 'ok' } })
  routerFor('/readyz').get('/readyz', async (ctx) => {
    const results: Record<string, boolean> = {}
    await Promise.all(Object.entries(options.readiness).map(async ([name, check]) => {
      try { results[name] = await check() } catch { results[name] = false }
    }))
    const ready = Object.values(results).every(Boolean)
    ctx.status = ready ? 200 : 503
    ctx.body = { status: ready ? 'ready' : 'unavailable', checks: results }
  })
  const metrics = options.metrics
  if (metrics) {
    const expected = metrics.token === null ? null : createHash('sha256').update(metrics.token).digest()
    routerFor('/metrics').get('/metrics', async (ctx) => {
      if (expected) {
        const given = createHash('sha256').update(/^Bearer (.+)$/.exec(ctx.get('authorization'))?.[1] ?? '').digest()
        if (!timingSafeEqual(given, expected)) return sendError(ctx, 401, 'unauthorized', 'metrics need the metrics token')
      }
      const { contentType, body } = await metrics.render()
      ctx.type = contentType
      ctx.body = body
    })
  }
  const openapi = buildOpenApi(routes, options.webhooks ?? [])
  routerFor('/api/v1/openapi.json').get('/api/v1/openapi.json', (ctx) => { ctx.body = openapi })
  routerFor('/docs').get('/docs', (ctx) => {
    ctx.type = 'html'
    // The docs page runs its own inline script: relax the CSP for this one page only.
    ctx.set('Content-Security-Policy', "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'")
    ctx.body = DOCS_HTML
  })

  for (const hook of options.webhooks ?? []) {
    routerFor(hook.path)[hook.method === 'GET' ? 'get' : 'post'](hook.path, async (ctx) => {
      const chunks: Buffer[] = []
      let size = 0
      for await (const chunk of ctx.req) {
        size += (chunk as Buffer).length
        if (size > hook.bodyLimit) throw new HttpError(413, 'payload_too_large', `body larger than ${hook.bodyLimit} bytes`)
        chunks.push(chunk as Buffer)
      }
      const answer = await hook.handle({ params: { ...ctx.params } as Record<string, string>, query: { ...ctx.query }, body: Buffer.concat(chunks).toString('utf8'), ip: ctx.ip, method: ctx.method })
      ctx.status = answer.status
      ctx.type = 'text/plain; charset=utf-8'
      ctx.body = answer.body
    })
  }

  for (const route of routes) {
    const method = route.method.toLowerCase() as 'get' | 'post' | 'put' | 'patch' | 'delete'
    routerFor(route.path)[method](route.path, async (ctx) => {
      const { access } = route
      let principal: Principal | null = null
      if (access.roles !== 'public') {
        principal = await authenticate(ctx, options)
        await limit(ctx, rateLimiter, `api:tok:${principal.tokenId}`, limits.perToken, 'per token')
        if (access.strict) await limit(ctx, rateLimiter, `api:strict:${principal.tokenId}`, limits.tokenCreation, 'sensitive operation')
        if (!access.roles.includes(principal.role) || (access.mutates && principal.role === 'operator')) {
          throw new HttpError(403, 'forbidden', `the ${principal.role} role cannot ${access.mutates ? 'change' : 'read'} this`)
        }
      }
      const params = parsePart(route.params, ctx.params, 'params')
      let groupId: string | null = null
      if (access.groupParam) {
        groupId = String((params as Record<string, unknown>)[access.groupParam])
        // Outside the caller's scope looks exactly like a group that does not exist.
        if (principal && !principal.scope.has(groupId)) throw groupNotFound()
      }
      if (access.owned?.param !== undefined && route.findOwned) {
        // Someone else's object looks exactly like one that does not exist.
        const found = await route.findOwned(params)
        if (!found || !canSeeOwned(principal, found.ownerTokenId)) throw ownedNotFound(access.owned.kind)
      }
      const query = parsePart(route.query, { ...ctx.query }, 'query')
      const rawBody = route.method === 'GET' || route.method === 'DELETE' ? undefined : await readJson(ctx, route.bodyLimit ?? options.bodyLimit)
      const body = parsePart(route.body, rawBody, 'body')
      let summary: AuditSummary | null = null
      const requestId = ctx.state.requestId as string
      const result = await route.handler({
        params, query, body, requestId, auth: principal,
        log: lazyChild(log, { requestId, token: principal?.tokenId }),
        audit: (s) => { summary = s },
      })
      ctx.status = route.status ?? (route.method === 'POST' ? 201 : 200)
      if (route.contentType) {
        ctx.type = route.contentType
        // A streamed body is piped as it is produced (chunked transfer), never held whole.
        ctx.body = result instanceof StreamedBody ? Readable.from(result.chunks) : String(result)
      } else if (result instanceof RawJson) {
        ctx.type = 'application/json; charset=utf-8'
        ctx.body = result.json
      } else ctx.body = result ?? { ok: true }
      if (access.mutates) {
        await options.audit.append({
          at: options.clock.now(), principal, method: route.method, route: route.path, path: route.auditPath ? route.auditPath(params) : ctx.path,
          status: ctx.status, requestId, summary, groupId,
        })
      }
    })
  }

  const dispatch = new Map<string, Koa.Middleware>()
  for (const [key, r] of buckets) {
    const routes = r.routes()
    const allowed = r.allowedMethods({ throw: true })
    // @koa/router types its middleware against its own context type; at run time it is Koa's context.
    dispatch.set(key, (ctx, next) => routes(ctx as Parameters<typeof routes>[0], () => allowed(ctx as Parameters<typeof allowed>[0], next)))
  }
  app.use((ctx, next) => {
    const handler = dispatch.get(bucketOf(ctx.path))
    return handler ? handler(ctx, next) : next()
  })
  app.on('error', () => { /* answered and logged by the error middleware */ })
  return app
}

/**
 * The router bucket of a path: `/api/v1/<resource>/<id>/<sub-resource>/…` → `<resource>/<sub-resource>`.
 * Route templates and request paths give the same key, because the second segment is always an id
 * when a third exists.
 */
export function bucketOf(path: string): string {
  if (!path.startsWith('/api/v1/')) {
    // Platform callbacks (`/wecom/callback/:botId`): the first two segments, so template and request agree.
    const callback = /^\/[^/]+\/[^/]+\//.exec(path)
    return callback ? callback[0] : path
  }
  const segments = path.slice(8).split('/')
  return `${segments[0] ?? ''}/${segments[2] ?? ''}`
}

/** How an operator gets an API token (said in every 401 and in the start log). */
export const TOKEN_COMMAND = 'npm run -s qunyun -- token create --role admin --name me'

/** Reads and checks the bearer token; 401 when missing or invalid (failed attempts are rate limited per address). */
async function authenticate(ctx: Context, options: HttpAppOptions): Promise<Principal> {
  const header = ctx.get('authorization')
  if (!header) {
    ctx.set('WWW-Authenticate', 'Bearer realm="qunyun"')
    throw new HttpError(401, 'unauthenticated', `send an API token: Authorization: Bearer qy_… (create one with: ${TOKEN_COMMAND})`)
  }
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
  const principal = match ? await options.auth.authenticate(match[1] as string) : null
  if (!principal) {
    await limit(ctx, options.rateLimiter, `api:authfail:${ctx.ip}`, options.limits.failedAuthPerIp, 'failed authentication')
    ctx.set('WWW-Authenticate', 'Bearer realm="qunyun", error="invalid_token"')
    throw new HttpError(401, 'invalid_token', `the API token is malformed, unknown or revoked (create one with: ${TOKEN_COMMAND})`)
  }
  return principal
}

/**
 * A request path as logged: every member-id path segment (`…/members/<id>…`) becomes `:memberId`, so no
 * log line (at any level) holds a member's id from a URL — the residue scan searches the log files.
 */
export function logPath(path: string): string {
  return path.replace(/\/members\/[^/]+/g, '/members/:memberId')
}
