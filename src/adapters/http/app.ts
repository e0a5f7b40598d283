import { randomUUID } from 'node:crypto'
import Koa, { type Context, type Next } from 'koa'
import Router from '@koa/router'
import type { ZodType } from 'zod'
import { HttpError, type ErrorDetail, type RouteDefinition } from '../../kernel/routes'
import type { Logger } from '../../kernel/logger'
import { errorText } from '../../kernel/processor'

/** A readiness probe: name → check that resolves true when healthy. */
export type ReadinessChecks = Record<string, () => Promise<boolean>>

/** Options of the admin HTTP app. */
export interface HttpAppOptions {
  routes: RouteDefinition[]
  readiness: ReadinessChecks
  log: Logger
  /** Maximum JSON body size in bytes. */
  bodyLimit?: number
}

const REQUEST_ID = /^[A-Za-z0-9._-]{8,64}$/

/** Writes the uniform error body. */
function sendError(ctx: Context, status: number, code: string, message: string, details: ErrorDetail[] = []): void {
  ctx.status = status
  ctx.body = { error: { code, message, details, requestId: ctx.state.requestId as string } }
}

/** Reads a JSON body up to `limit` bytes. */
async function readJson(ctx: Context, limit: number): Promise<unknown> {
  const type = ctx.get('content-type')
  if (!/^application\/json\b/i.test(type)) throw new HttpError(415, 'unsupported_media_type', 'send the body as application/json')
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length
    if (size > limit) throw new HttpError(413, 'payload_too_large', `body larger than ${limit} bytes`)
    chunks.push(chunk as Buffer)
  }
  if (size === 0) return undefined
  try { return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown } catch {
    throw new HttpError(400, 'invalid_json', 'body is not valid JSON')
  }
}

/** Parses one part of the input with its schema, turning problems into a 400 with details. */
function parsePart<T>(schema: ZodType<T> | undefined, value: unknown, part: 'params' | 'query' | 'body'): T {
  if (!schema) {
    if (part === 'body' && value !== undefined) throw new HttpError(400, 'unexpected_body', 'this route takes no body')
    return (part === 'body' ? undefined : {}) as T
  }
  const parsed = schema.safeParse(value ?? (part === 'body' ? undefined : {}))
  if (parsed.success) return parsed.data
  throw new HttpError(400, 'invalid_input', `invalid ${part}`, parsed.error.issues.map((i) => ({ path: [part, ...i.path.map(String)].join('.'), message: i.message })))
}

/**
 * The admin API: request ids, JSON errors `{ error: { code, message, details } }` (4xx for bad input, never
 * a stack trace), /healthz, /readyz, and every feature's routes validated by their zod schemas.
 * Authentication and authorization plug in here (see RouteDefinition.access) with the API platform.
 */
export function createHttpApp(options: HttpAppOptions): Koa {
  const app = new Koa({ proxy: false })
  const router = new Router()
  const bodyLimit = options.bodyLimit ?? 256 * 1024
  const log = options.log

  app.use(async (ctx: Context, next: Next) => {
    const incoming = ctx.get('x-request-id')
    ctx.state.requestId = REQUEST_ID.test(incoming) ? incoming : randomUUID()
    ctx.set('X-Request-Id', ctx.state.requestId as string)
    ctx.set('X-Content-Type-Options', 'nosniff')
    ctx.set('Cache-Control', 'no-store')
    const started = process.hrtime.bigint()
    try {
      await next()
      if (ctx.status === 404 && ctx.body === undefined) sendError(ctx, 404, 'not_found', `no route for ${ctx.method} ${ctx.path}`)
    } catch (error) {
      if (error instanceof HttpError) sendError(ctx, error.status, error.code, error.message, error.details)
      else {
        const status = (error as { status?: number }).status
        if (typeof status === 'number' && status >= 400 && status < 500) {
          sendError(ctx, status, status === 405 ? 'method_not_allowed' : 'bad_request', (error as Error).message)
        } else {
          log.error('admin API request failed', { requestId: ctx.state.requestId, method: ctx.method, path: ctx.path, error: errorText(error) })
          sendError(ctx, 500, 'internal', 'internal error; quote the request id when reporting it')
        }
      }
    } finally {
      log.debug('http', { requestId: ctx.state.requestId, method: ctx.method, path: ctx.path, status: ctx.status, ms: Number(process.hrtime.bigint() - started) / 1e6 })
    }
  })

  router.get('/healthz', (ctx) => { ctx.body = { status: 'ok' } })
  router.get('/readyz', async (ctx) => {
    const results: Record<string, boolean> = {}
    await Promise.all(Object.entries(options.readiness).map(async ([name, check]) => {
      try { results[name] = await check() } catch { results[name] = false }
    }))
    const ready = Object.values(results).every(Boolean)
    ctx.status = ready ? 200 : 503
    ctx.body = { status: ready ? 'ready' : 'unavailable', checks: results }
  })

  for (const route of options.routes) {
    const method = route.method.toLowerCase() as 'get' | 'post' | 'put' | 'patch' | 'delete'
    router[method](route.path, async (ctx) => {
      const params = parsePart(route.params, ctx.params, 'params')
      const query = parsePart(route.query, { ...ctx.query }, 'query')
      const rawBody = route.method === 'GET' || route.method === 'DELETE' ? undefined : await readJson(ctx, bodyLimit)
      const body = parsePart(route.body, rawBody, 'body')
      const result = await route.handler({ params, query, body, requestId: ctx.state.requestId as string, log: log.child({ requestId: ctx.state.requestId }) })
      ctx.status = route.method === 'POST' ? 201 : 200
      ctx.body = result ?? { ok: true }
    })
  }

  app.use(router.routes())
  app.use(router.allowedMethods({ throw: true }))
  app.on('error', () => { /* already answered and logged by the error middleware */ })
  return app
}

/** The route table as "METHOD path" strings (documentation and tests). */
export function routeTable(routes: RouteDefinition[]): string[] {
  return ['GET /healthz', 'GET /readyz', ...routes.map((r) => `${r.method} ${r.path}`)]
}
