/**
 * The one typed client of the admin API. Every page reads and writes through it: the token is sent in
 * the Authorization header only (never in a URL), errors arrive as ApiError with the API's code.
 */

export type Role = 'admin' | 'owner' | 'operator'

export interface Me { tokenId: number; name: string; role: Role; allGroups: boolean; groupIds: string[] }

export interface Group {
  id: string; name: string; botId: string; memberCount: number; active: boolean; timezone: string
  labels: string[]; joinedAt: string; leftAt: string | null
}

export interface DayActivity { day: string; messages: number; activeMembers: number }
export interface GroupDetail extends Group { activity?: { from: string; to: string; days: DayActivity[] } }

export interface Activity {
  groupId: string; timezone: string; from: string; to: string; days: DayActivity[]
  hours: number[]; topMembers: Array<{ memberId: string; messages: number; chars: number }>
}

export interface Member { memberId: string; name: string; role: string; active: boolean; joinedAt: string | null; leftAt: string | null }
export type MemberSort = 'name' | '-name' | 'joinedAt' | '-joinedAt' | 'memberId' | '-memberId'
export interface MemberPage { groupId: string; total: number; offset: number; limit: number; items: Member[] }

export interface CheckInStats { groupId: string; members: number; from: string; to: string; days: Array<{ day: string; checkIns: number; makeUps: number; rate: number }> }
export interface Leaderboard { groupId: string; by: 'streak' | 'points'; today: string; items: Array<Record<string, unknown>> }
export interface ModerationStats { groupId: string; from: string; to: string; items: Array<{ day: string; detector: string; live: number; shadow: number; removals: number }> }
export interface AutoReplyStats { groupId: string; from: string; to: string; items: Array<{ ruleId: number; day: string; answered: number; suppressed: number }> }

export interface TokenView {
  id: number; name: string; role: Role; hint: string; allGroups: boolean; groupIds: string[]
  createdBy: string | null; createdAt: string; lastUsedAt: string | null; revokedAt: string | null
}
export interface AuditEntry {
  id: number; at: string; tokenId: number | null; tokenName: string | null; role: string; method: string
  route: string; path: string; groupId: string | null; status: number; requestId: string; summary: unknown
}
export interface Page<T> { items: T[]; nextCursor: string | null }

export interface RulesOf<T = unknown> { groupId: string; feature: string; version: number; rules: T }
export interface RuleVersion { version: number; author: string | null; note: string | null; at: string }
export interface RuleChange { path: string; before?: unknown; after?: unknown; [key: string]: unknown }
export interface RuleDiff { from: number; to: number; changes: RuleChange[] }

/** A JSON Schema fragment as the OpenAPI document carries it. */
export interface JsonSchema {
  type?: string | string[]; properties?: Record<string, JsonSchema>; required?: string[]; items?: JsonSchema
  additionalProperties?: boolean | JsonSchema; enum?: unknown[]; const?: unknown; default?: unknown
  minimum?: number; maximum?: number; exclusiveMinimum?: number; exclusiveMaximum?: number
  minLength?: number; maxLength?: number; pattern?: string; minItems?: number; maxItems?: number
  anyOf?: JsonSchema[]; oneOf?: JsonSchema[]; allOf?: JsonSchema[]; description?: string; format?: string
  propertyNames?: JsonSchema
}

interface OpenApiOperation { requestBody?: { content?: Record<string, { schema?: JsonSchema }> } }
export interface OpenApiDocument { paths: Record<string, Record<string, OpenApiOperation>> }

export interface ErrorDetail { path: string; message: string }

/** An answer other than 2xx, or no answer at all (status 0: the server is down or unreachable). */
export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly details: ErrorDetail[] = [], readonly requestId: string | null = null) {
    super(message)
    this.name = 'ApiError'
  }
}

type Query = Record<string, string | number | boolean | undefined>

const g = (id: string): string => `/api/v1/groups/${encodeURIComponent(id)}`

function withQuery(path: string, query: Query = {}): string {
  const params = new URLSearchParams()
  for (const [key, value] of Object.entries(query)) if (value !== undefined && value !== '') params.set(key, String(value))
  const text = params.toString()
  return text ? `${path}?${text}` : path
}

/** The admin API, as the signed-in caller. */
export class Api {
  /** Called once per 401 (expired or revoked token): the app signs out. */
  onUnauthorized: ((error: ApiError) => void) | null = null

  constructor(private readonly token: string, private readonly base = '') {}

  /** One request; JSON in and out (text for CSV). */
  async request<T>(method: string, path: string, body?: unknown, accept: 'json' | 'text' = 'json'): Promise<T> {
    const headers: Record<string, string> = { Authorization: `Bearer ${this.token}`, Accept: accept === 'json' ? 'application/json' : 'text/csv' }
    if (body !== undefined) headers['Content-Type'] = 'application/json'
    let res: Response
    try {
      res = await fetch(this.base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'omit', cache: 'no-store', referrerPolicy: 'no-referrer' })
    } catch {
      throw new ApiError(0, 'network', 'server unreachable')
    }
    if (!res.ok) {
      const payload = await res.json().catch(() => null) as { error?: { code?: string; message?: string; details?: ErrorDetail[]; requestId?: string } } | null
      const e = payload?.error
      const error = new ApiError(res.status, e?.code ?? `http_${res.status}`, e?.message ?? res.statusText, e?.details ?? [], e?.requestId ?? res.headers.get('X-Request-Id'))
      if (res.status === 401) this.onUnauthorized?.(error)
      throw error
    }
    return (accept === 'text' ? await res.text() : await res.json()) as T
  }

  get<T>(path: string, query?: Query): Promise<T> { return this.request<T>('GET', withQuery(path, query)) }

  me(): Promise<Me> { return this.get('/api/v1/me') }
  openapi(): Promise<OpenApiDocument> { return this.get('/api/v1/openapi.json') }

  async groups(): Promise<Group[]> {
    const all: Group[] = []
    let cursor: string | undefined
    // At most 50 pages of 100: the dashboard lists up to 5,000 groups.
    for (let i = 0; i < 50; i++) {
      const page = await this.get<{ items: Group[]; nextCursor: string | null }>('/api/v1/groups', { limit: 100, cursor })
      all.push(...page.items)
      if (!page.nextCursor) break
      cursor = page.nextCursor
    }
    return all
  }
  group(id: string): Promise<GroupDetail> { return this.get(g(id)) }
  activity(id: string, days: number): Promise<Activity> { return this.get(`${g(id)}/activity`, { days }) }
  members(id: string, query: { q?: string; sort?: MemberSort; limit?: number; offset?: number; active?: 'true' | 'false' | 'all' }): Promise<MemberPage> {
    return this.get(`${g(id)}/members`, query)
  }
  checkInStats(id: string, days: number): Promise<CheckInStats> { return this.get(`${g(id)}/check-ins/stats`, { days }) }
  leaderboard(id: string, by: 'streak' | 'points', limit = 10): Promise<Leaderboard> { return this.get(`${g(id)}/check-ins/leaderboard`, { by, limit }) }
  moderationStats(id: string, days: number): Promise<ModerationStats> { return this.get(`${g(id)}/moderation/stats`, { days }) }
  autoReplyStats(id: string, days: number): Promise<AutoReplyStats> { return this.get(`${g(id)}/auto-reply/stats`, { days }) }

  tokens(cursor?: string): Promise<Page<TokenView>> { return this.get('/api/v1/tokens', { limit: 50, cursor, includeRevoked: 'true' }) }
  auditLog(query: { cursor?: string; groupId?: string }): Promise<Page<AuditEntry>> { return this.get('/api/v1/audit-log', { limit: 50, ...query }) }

  rules<T = unknown>(id: string, feature: string): Promise<RulesOf<T>> { return this.get(`${g(id)}/rules/${encodeURIComponent(feature)}`) }
  saveRules<T = unknown>(id: string, feature: string, rules: T, note?: string): Promise<RulesOf<T>> {
    return this.request('PUT', withQuery(`${g(id)}/rules/${encodeURIComponent(feature)}`, { note }), rules)
  }
  ruleVersions(id: string, feature: string): Promise<{ items: RuleVersion[] }> { return this.get(`${g(id)}/rules/${encodeURIComponent(feature)}/versions`) }
  ruleDiff(id: string, feature: string, from: number, to: number): Promise<RuleDiff> { return this.get(`${g(id)}/rules/${encodeURIComponent(feature)}/diff`, { from, to }) }
  rollback<T = unknown>(id: string, feature: string, version: number, note?: string): Promise<RulesOf<T>> {
    return this.request('POST', `${g(id)}/rules/${encodeURIComponent(feature)}/rollback`, note ? { version, note } : { version })
  }
  /** POSTs to a dry-run route given as its OpenAPI path (`/api/v1/groups/{id}/…/dry-run`). */
  dryRun(id: string, path: string, body: Record<string, unknown>): Promise<unknown> {
    return this.request('POST', path.replace('{id}', encodeURIComponent(id)), body)
  }
}

/** A feature's dry-run route: its OpenAPI path and body schema. */
export interface DryRunRoute { path: string; schema: JsonSchema }

/**
 * Rule features of the generic rules route, read from the OpenAPI document, each with its dry run: the
 * generic one (`…/rules/<feature>/dry-run`) or the feature's own (`/groups/{id}/<feature>/dry-run`).
 */
export function ruleFeatures(doc: OpenApiDocument): Array<{ feature: string; schema: JsonSchema | null; dryRun: DryRunRoute | null }> {
  const prefix = '/api/v1/groups/{id}/rules/'
  const body = (op: OpenApiOperation | undefined): JsonSchema | null => op?.requestBody?.content?.['application/json']?.schema ?? null
  const out: Array<{ feature: string; schema: JsonSchema | null; dryRun: DryRunRoute | null }> = []
  for (const [path, ops] of Object.entries(doc.paths)) {
    if (!path.startsWith(prefix)) continue
    const feature = path.slice(prefix.length)
    if (feature.includes('/') || !ops.put) continue
    let dryRun: DryRunRoute | null = null
    for (const candidate of [`${prefix}${feature}/dry-run`, `/api/v1/groups/{id}/${feature}/dry-run`]) {
      const schema = body(doc.paths[candidate]?.post)
      if (schema) { dryRun = { path: candidate, schema }; break }
    }
    out.push({ feature, schema: body(ops.put), dryRun })
  }
  return out
}
