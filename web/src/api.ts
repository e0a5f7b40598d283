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
  hours: number[]; topMembers: Array<{ memberId: string; name: string | null; messages: number; chars: number }>
}

export interface Member { memberId: string; name: string; role: string; active: boolean; joinedAt: string | null; leftAt: string | null }
export type MemberSort = 'name' | '-name' | 'joinedAt' | '-joinedAt' | 'memberId' | '-memberId'
export interface MemberPage { groupId: string; total: number; offset: number; limit: number; items: Member[] }

export interface CheckInStats { groupId: string; members: number; from: string; to: string; days: Array<{ day: string; checkIns: number; makeUps: number; rate: number }> }
export interface Leaderboard { groupId: string; by: 'streak' | 'points'; today: string; items: Array<Record<string, unknown>> }
export interface ModerationStats { groupId: string; from: string; to: string; items: Array<{ day: string; detector: string; live: number; shadow: number; removals: number }> }
export interface AutoReplyStats { groupId: string; from: string; to: string; items: Array<{ ruleId: number; day: string; answered: number; suppressed: number }> }

/** Lifecycle states, in the order of a member's usual path (the tagging feature's). */
export const LIFECYCLE = ['new', 'active', 'dormant', 'churned', 'returned'] as const
export type Lifecycle = (typeof LIFECYCLE)[number]

/** Totals of a period (the stats feature's group-day rollup). */
export interface Totals {
  messages: number; text: number; media: number; card: number; other: number; activeDays: number; joins: number; leaves: number
  checkins: number; autoReplyHits: number; moderationHits: number; moderationActions: number
}
/** One period of the overview report. */
export interface PeriodFigures {
  from: string; to: string; members: number; joins: number; leaves: number; netGrowth: number; dau: number; wau: number; mau: number
  messages: number; activeMembers: number; checkInRate: number | null; autoReplyHits: number; moderationHits: number; lotteryEntrants: number
}
/** KPI figures the overview compares with the previous period. */
export type OverviewFigure = 'members' | 'netGrowth' | 'dau' | 'messages' | 'activeMembers' | 'moderationHits'
export interface StatsOverview { groups: 'all' | number; current: PeriodFigures; previous: PeriodFigures; change: Partial<Record<OverviewFigure, number | null>> }
export interface HeatCell { weekday: number; hour: number; messages: number; speakers: number }
export type MixPoint = { day: string } & Record<Lifecycle, number>
export interface QuietGroup { groupId: string; lastWeekMessages: number; threshold: number; weeks: number }
export type GroupTotals = { groupId: string } & Totals
export interface Cohort { week: string; joined: number; retained: number[]; rates: Array<number | null> }
export interface Retention { groupId: string; from: string; to: string; weeks: number; cohorts: Cohort[] }
/** A term of the hot-topics report: messages containing it in the range and in the range before. */
export interface TermCount { term: string; count: number; previous: number }
export interface Topics { groupId: string; from: string; to: string; previous: { from: string; to: string }; minCount: number; top: TermCount[]; rising: Array<TermCount & { growth: number }> }
/** A weekday × hour slot of the best-time report (weekday 0 = Monday, the group's local hours). */
export interface PostSlot { weekday: number; hour: number; occurrences: number; messages: number; speakers: number; avgSpeakers: number; questions: number; resolved: number; responseRate: number; score: number }
export interface BestTime { groupId: string; timezone: string; from: string; to: string; method: string; slots: PostSlot[]; best: PostSlot[] }
export interface QuestionFigures { questions: number; resolved: number; byAutoReply: number; resolutionRate: number | null; medianMinutesToAnswer: number | null }
export interface Questions { groupId: string; timezone: string; from: string; to: string; total: QuestionFigures; days: Array<{ day: string } & QuestionFigures> }
export interface TopMember { memberId: string; name: string | null; messages: number; activeDays: number; checkins: number; bestStreak: number; currentStreak: number }

export interface LifecycleMember {
  memberId: string; name: string | null; state: Lifecycle; stateSince: string; score: number; segment: string | null; tags: string[]
  lastActiveDay: string | null; joinedAt: string | null; messages: number; activeDays: number
}
export interface LifecyclePage { groupId: string; total: number; offset: number; limit: number; items: LifecycleMember[] }
export interface TaggingStats { groupId: string; states: Record<string, number>; segments: Record<string, number>; tags: Record<string, number> }

export interface Lottery {
  id: number; ownerTokenId: number | null; status: 'draft' | 'open' | 'closed' | 'drawn' | 'cancelled'; title: string; description: string; groupIds: string[]
  prizes: Array<{ name: string; quantity: number }>; entry: { keyword: string; pointsCost: number }
  schedule: { opensAt: string | null; closesAt: string | null; drawAt: string | null }
  entrantCount: number; commitment: string | null; entrantsHash: string | null; seed: string | null
  createdAt: string; openedAt: string | null; closedAt: string | null; drawnAt: string | null
}
/** A winner; `drawId` names them as the lottery's proof does (their pseudonym). */
export interface Winner { memberId: string; drawId: string; name: string; groupId: string; prize: string; round: number; position: number; claimCode: string; status: string; claimedAt: string | null }
export interface LotteryDetail extends Lottery { winners: Winner[] }
export interface Entrant { id: number; memberId: string; name: string; groupId: string; method: string; points: number; at: string }

export interface SharePost { id: number; title: string; text: string; tags: string[]; expiresOn: string | null; createdAt: string }
export interface ShareSchedule {
  id: number; name: string; enabled: boolean; trigger: { type: 'cron'; cron: string } | { type: 'once'; at: string }; timezone: string | null
  target: { type: 'all' } | { type: 'groups'; groupIds: string[] } | { type: 'label'; label: string }; content: { type: string; [k: string]: unknown }
  version: number; updatedAt: string
}
export interface Delivery {
  id: number; scheduleId: number; groupId: string; fireAt: string | null; fireLocal: string; timezone: string; slotAt: string | null; postId: number | null
  status: 'planned' | 'queued' | 'sent' | 'failed' | 'skipped' | 'missed'; reason: string | null; queuedAt: string | null; finishedAt: string | null
}
export interface DeliveryLog { scheduleId: number; items: Delivery[]; nextBefore: number | null; counts: Record<string, number> }
interface LiftSummary { windows: number; avgMessages: number | null; avgMembers: number | null }
export interface Engagement {
  scheduleId: number; windowMinutes: number; posts: LiftSummary; baseline: LiftSummary
  lift: { messages: number | null; members: number | null }; perPost: Array<{ postId: number } & LiftSummary>
}
export interface SchedulePreview { scheduleId: number; paused: boolean; zones: Array<{ timezone: string; groups: number; runs: Array<{ at: string; local: string }> }> }

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

/** A day range of a report (YYYY-MM-DD; the server's defaults when absent). */
export type Range = { from?: string; to?: string }

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

  /** Cross-group reports (the caller's groups; admins: all), over [from, to]. */
  statsOverview(range: Range): Promise<StatsOverview> { return this.get('/api/v1/stats/overview', range) }
  statsHeatmap(range: Range): Promise<{ from: string; to: string; cells: HeatCell[] }> { return this.get('/api/v1/stats/heatmap', range) }
  statsLifecycle(range: Range): Promise<{ from: string; to: string; mix: MixPoint[] }> { return this.get('/api/v1/stats/lifecycle', range) }
  statsGroups(range: Range): Promise<{ from: string; to: string; groups: GroupTotals[] }> { return this.get('/api/v1/stats/groups', range) }
  statsAlerts(): Promise<{ to: string; weeks: number; percentile: number; groups: QuietGroup[] }> { return this.get('/api/v1/stats/alerts') }
  retention(id: string, query: Range & { weeks?: number }): Promise<Retention> { return this.get(`${g(id)}/stats/retention`, query) }
  topics(id: string, range: Range): Promise<Topics> { return this.get(`${g(id)}/stats/topics`, { ...range, limit: 20 }) }
  bestTime(id: string, range: Range & { top?: number }): Promise<BestTime> { return this.get(`${g(id)}/stats/best-time`, range) }
  questions(id: string, range: Range): Promise<Questions> { return this.get(`${g(id)}/stats/questions`, range) }
  topMembers(id: string, range: Range): Promise<{ members: TopMember[] }> { return this.get(`${g(id)}/stats/top-members`, { ...range, limit: 10 }) }

  lifecycleMembers(id: string, query: { state?: Lifecycle; tag?: string; sort?: string; order?: 'asc' | 'desc'; limit?: number; offset?: number }): Promise<LifecyclePage> {
    return this.get(`${g(id)}/tagging/members`, query)
  }
  taggingStats(id: string): Promise<TaggingStats> { return this.get(`${g(id)}/tagging/stats`) }

  lotteries(): Promise<{ items: Lottery[] }> { return this.get('/api/v1/lotteries') }
  lottery(id: number): Promise<LotteryDetail> { return this.get(`/api/v1/lotteries/${id}`) }
  entrants(id: number, after = 0): Promise<{ total: number; items: Entrant[]; next: number | null }> { return this.get(`/api/v1/lotteries/${id}/entrants`, { after, limit: 100 }) }
  /** The proof as JSON (left untyped here: the verifier checks its shape before trusting it). */
  createLottery(body: unknown): Promise<Lottery> { return this.request('POST', '/api/v1/lotteries', body) }
  openLottery(id: number): Promise<Lottery> { return this.request('POST', `/api/v1/lotteries/${id}/open`) }
  cancelLottery(id: number): Promise<Lottery> { return this.request('POST', `/api/v1/lotteries/${id}/cancel`) }
  /** Rerolls the given unclaimed winners (none given: those whose claim window passed); round null when nothing was rerolled. */
  rerollLottery(id: number, memberIds?: string[]): Promise<{ round: number | null; replaced: string[]; winners: string[] }> {
    return this.request('POST', `/api/v1/lotteries/${id}/reroll`, memberIds ? { memberIds } : {})
  }
  /** Marks a prize claimed or fulfilled (核销) by claim code or member id. */
  claimPrize(id: number, by: { code: string } | { memberId: string }, status: 'claimed' | 'fulfilled'): Promise<Winner> {
    return this.request('POST', `/api/v1/lotteries/${id}/claims`, { ...by, status })
  }
  /** The JSON Schema of a route's request body in the OpenAPI document (null when the route has none). */
  async bodySchema(path: string, method: 'post' | 'put'): Promise<JsonSchema | null> {
    return (await this.openapi()).paths[path]?.[method]?.requestBody?.content?.['application/json']?.schema ?? null
  }
  lotteryProof(id: number): Promise<unknown> { return this.get(`/api/v1/lotteries/${id}/proof`) }

  sharePosts(): Promise<{ items: SharePost[] }> { return this.get('/api/v1/share-posts') }
  shareSchedules(): Promise<{ items: ShareSchedule[] }> { return this.get('/api/v1/share-schedules') }
  shareSchedule(id: number): Promise<ShareSchedule> { return this.get(`/api/v1/share-schedules/${id}`) }
  createSchedule(body: unknown): Promise<ShareSchedule> { return this.request('POST', '/api/v1/share-schedules', body) }
  /** Pauses (false) or resumes (true) a schedule. */
  pauseSchedule(id: number, enabled: boolean): Promise<ShareSchedule> { return this.request('PATCH', `/api/v1/share-schedules/${id}`, { enabled }) }
  /** Sends the schedule's post (or the given one) to one of the caller's groups now. */
  testSend(id: number, groupId: string, postId?: number): Promise<{ scheduleId: number; groupId: string; postId: number; sendId: number; status: string; reason: string | null }> {
    return this.request('POST', `/api/v1/share-schedules/${id}/test-send`, postId === undefined ? { groupId } : { groupId, postId })
  }
  sharePreview(id: number): Promise<SchedulePreview> { return this.get(`/api/v1/share-schedules/${id}/preview`, { count: 5 }) }
  deliveries(id: number, query: { status?: string; before?: number }): Promise<DeliveryLog> { return this.get(`/api/v1/share-schedules/${id}/deliveries`, { limit: 50, ...query }) }
  engagement(id: number): Promise<Engagement> { return this.get(`/api/v1/share-schedules/${id}/engagement`) }

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
