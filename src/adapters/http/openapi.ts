import { z, type ZodType } from 'zod'
import type { RouteDefinition } from '../../kernel/routes'

type Json = Record<string, unknown>

/** JSON Schema of a zod schema (as the client sends it), for the OpenAPI document. */
function schemaOf(schema: ZodType, io: 'input' | 'output'): Json {
  const json = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Json
  delete json.$schema
  return json
}

/** The uniform error body. */
const ERROR_SCHEMA: Json = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message', 'details', 'requestId'],
      properties: {
        code: { type: 'string', examples: ['invalid_input', 'not_found', 'unauthenticated', 'forbidden', 'rate_limited'] },
        message: { type: 'string' },
        details: { type: 'array', items: { type: 'object', required: ['path', 'message'], properties: { path: { type: 'string' }, message: { type: 'string' } } } },
        requestId: { type: 'string' },
      },
    },
  },
}

const errorResponse = (description: string): Json => ({ description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } })

/** OpenAPI path template from a Koa route path (`:id` → `{id}`). */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, '{$1}')
}

function parameters(schema: ZodType | undefined, where: 'path' | 'query'): Json[] {
  if (!schema) return []
  const json = schemaOf(schema, 'input')
  const props = (json.properties ?? {}) as Record<string, Json>
  const required = new Set((json.required ?? []) as string[])
  return Object.entries(props).map(([name, s]) => ({ name, in: where, required: where === 'path' || required.has(name), schema: s }))
}

/** How a platform callback (a webhook the platform calls, not an admin route) appears in the OpenAPI document. */
export interface WebhookDoc {
  summary: string
  description: string
  /** Query parameters: name → description. */
  query: Record<string, string>
  /** Path parameters: name → description. */
  params: Record<string, string>
  /** Content type of the request body (POST), e.g. text/xml. */
  bodyType?: string
  /** Status → description. */
  responses: Record<string, string>
}

/** The OpenAPI 3.1 document of every mounted route (and platform callback), generated from the same zod schemas that validate them. */
export function buildOpenApi(routes: readonly RouteDefinition[], hooks: ReadonlyArray<{ method: string; path: string; doc?: WebhookDoc }> = []): Json {
  const paths: Record<string, Record<string, Json>> = {}
  const add = (method: string, path: string, op: Json): void => {
    const key = openApiPath(path)
    paths[key] ??= {}
    ;(paths[key] as Record<string, Json>)[method.toLowerCase()] = op
  }
  add('GET', '/healthz', { summary: 'Liveness', security: [], responses: { 200: { description: 'alive' } } })
  add('GET', '/readyz', { summary: 'Readiness: database, coordination, bot login', security: [], responses: { 200: { description: 'ready' }, 503: { description: 'not ready' } } })
  add('GET', '/api/v1/openapi.json', { summary: 'This document', security: [], responses: { 200: { description: 'OpenAPI 3.1' } } })
  add('GET', '/docs', { summary: 'Human-readable API docs', security: [], responses: { 200: { description: 'HTML' } } })
  for (const hook of hooks) {
    if (!hook.doc) continue
    const { doc } = hook
    const op: Json = {
      summary: doc.summary, description: doc.description, security: [], tags: ['platform callbacks'],
      operationId: `${hook.method.toLowerCase()}${openApiPath(hook.path).replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
      parameters: [
        ...Object.entries(doc.params).map(([name, description]) => ({ name, in: 'path', required: true, description, schema: { type: 'string' } })),
        ...Object.entries(doc.query).map(([name, description]) => ({ name, in: 'query', required: true, description, schema: { type: 'string' } })),
      ],
      responses: Object.fromEntries(Object.entries(doc.responses).map(([status, description]) => [status, { description, content: { 'text/plain': { schema: { type: 'string' } } } }])),
    }
    if (doc.bodyType) op.requestBody = { required: true, content: { [doc.bodyType]: { schema: { type: 'string', description: '<xml><ToUserName/><Encrypt/><AgentID/></xml>' } } } }
    add(hook.method, hook.path, op)
  }
  for (const route of routes) {
    const isPublic = route.access.roles === 'public'
    const status = String(route.status ?? (route.method === 'POST' ? 201 : 200))
    const responses: Json = {
      [status]: route.contentType
        ? { description: 'success', content: { [route.contentType.split(';')[0] as string]: { schema: { type: 'string' } } } }
        : { description: 'success', content: { 'application/json': { schema: route.response ? schemaOf(route.response, 'output') : {} } } },
      400: errorResponse('invalid input (details say where)'),
      429: errorResponse('rate limited (see Retry-After)'),
    }
    if (!isPublic) {
      responses[401] = errorResponse('missing, malformed, unknown or revoked token')
      responses[403] = errorResponse('role not allowed')
    }
    if (route.access.groupParam || route.path.includes(':')) responses[404] = errorResponse('not found (groups outside your scope look the same)')
    const op: Json = {
      summary: route.summary,
      operationId: `${route.method.toLowerCase()}${openApiPath(route.path).replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
      security: isPublic ? [] : [{ bearer: [] }],
      'x-qunyun-access': route.access,
      parameters: [...parameters(route.params, 'path'), ...parameters(route.query, 'query')],
      responses,
    }
    if (route.body) op.requestBody = { required: true, content: { 'application/json': { schema: schemaOf(route.body, 'input') } } }
    add(route.method, route.path, op)
  }
  return {
    openapi: '3.1.0',
    info: { title: 'qunyun admin API', version: '1', description: 'Bearer tokens (qy_…); roles admin, owner, operator. Errors: { error: { code, message, details, requestId } }.' },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'qunyun API token (qunyun token create …)' } },
      schemas: { Error: ERROR_SCHEMA },
    },
    security: [{ bearer: [] }],
    paths,
  }
}

/** A self-contained docs page (no CDN): renders the OpenAPI document served next to it. */
export const DOCS_HTML = `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>qunyun admin API</title>
<style>
body{font:14px/1.5 system-ui,-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;margin:2rem auto;max-width:60rem;color:#222;padding:0 1rem}
h1{font-size:1.6rem}.op{border:1px solid #ddd;border-radius:6px;margin:.8rem 0;padding:.6rem .9rem}
.m{display:inline-block;min-width:4.2rem;font-weight:600;font-family:monospace}.GET{color:#1a7f37}.POST{color:#0969da}.PUT,.PATCH{color:#9a6700}.DELETE{color:#cf222e}
code,pre{font-family:ui-monospace,monospace;background:#f6f8fa;border-radius:4px}pre{padding:.5rem;overflow:auto;font-size:12px}
.tag{font-size:12px;color:#555;margin-left:.5rem}
</style></head><body>
<h1>qunyun admin API</h1>
<p>Send <code>Authorization: Bearer qy_…</code> (create tokens with <code>qunyun token create</code>). Errors are
<code>{ "error": { "code", "message", "details", "requestId" } }</code>. Machine-readable: <a href="/api/v1/openapi.json">openapi.json</a>.</p>
<div id="ops">loading…</div>
<script>
fetch('/api/v1/openapi.json').then(function(r){return r.json()}).then(function(doc){
  var out=[];
  Object.keys(doc.paths).sort().forEach(function(p){
    Object.keys(doc.paths[p]).forEach(function(m){
      var op=doc.paths[p][m], a=op['x-qunyun-access'];
      var who=!a?'public':(a.roles==='public'?'public':a.roles.join(', ')+(a.mutates?' · changes state':'')+(a.groupParam?' · scoped to {'+a.groupParam+'}':''));
      var params=(op.parameters||[]).map(function(x){return x.in+' '+x.name+(x.required?'':'?')}).join(', ');
      var body=op.requestBody?'<pre>'+JSON.stringify(op.requestBody.content['application/json'].schema,null,2).replace(/</g,'&lt;')+'</pre>':'';
      out.push('<div class="op"><span class="m '+m.toUpperCase()+'">'+m.toUpperCase()+'</span><code>'+p.replace(/</g,'&lt;')+'</code><span class="tag">'+who+'</span><div>'+(op.summary||'').replace(/</g,'&lt;')+'</div>'+(params?'<div class="tag">'+params.replace(/</g,'&lt;')+'</div>':'')+body+'</div>');
    });
  });
  document.getElementById('ops').innerHTML=out.join('');
});
</script></body></html>`
