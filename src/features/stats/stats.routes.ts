import type { ZodType } from 'zod'
import type { FeatureTables } from '../../adapters/db/feature-store'
import { canSeeOwned, type Principal } from '../../kernel/auth'
import { csvChunks, csvOptions, withPseudonymise } from '../../kernel/csv'
import type { GroupDirectory } from '../../kernel/directory'
import { defineRoute, GroupParams, groupNotFound, HttpError, StreamedBody, type RouteDefinition } from '../../kernel/routes'
import { localTime } from '../../kernel/time'
import type { Clock } from '../../ports/clock'
import { LIFECYCLE_STATES } from '../../contracts/tagging'
import { concentrationOf, dailySeries, topMembersReport, type RuleStat, groupTable, heatmap, hourlySeries, lifecycleMix, quietGroups, retention, ruleStats, topInviters, transitions, type MixPoint, type Scope, type Transition } from './stats.queries'
import { overview, resolveRange, type Overview, type Range } from './stats.report'
import { AlertsQuery, BestTimeQuery, GroupTableQuery, MAX_CSV_ROWS, QuestionsQuery, RangeQuery, RetentionQuery, ScopeQuery, ScopeSeriesQuery, SeriesQuery, TopicsQuery, TopQuery } from './stats.schema'
import { bestTime, questionStats, topics, type PostSlot, type QuestionFigures, type RisingTerm, type TermCount } from './stats.content'
import { dayStart, weekOf } from './stats.time'
import type { ScheduleLift, ShareLift } from '../../contracts/scheduled-share'
import type { AutoReplyRuleOwners } from '../../contracts/auto-reply'
import { addDays } from '../../kernel/time'

/** A report as a table (its CSV export). */
interface Table { header: string[]; rows: Array<Array<string | number | null>> }

/** The best-time method, stated in the answer so a chart can say how slots are ranked. */
const BEST_TIME_METHOD = 'score = avgSpeakers × responseRate per weekday × hour slot (group-local); avgSpeakers = distinct speakers in the slot ÷ times the slot occurs in the range; responseRate = (questions answered + 1) ÷ (questions asked + 2)'

/** Longest range of an hourly series (days). */
const MAX_HOURLY_DAYS = 31

const READERS = { roles: ['admin', 'owner', 'operator'] as const, mutates: false }

/** What the routes need. */
export interface StatsRouteDeps {
  db: FeatureTables
  clock: Clock
  directory: GroupDirectory
  /** Timezone of cross-group reports' default range (the process default). */
  timezone: string
  /** Post lift per schedule (the scheduled-share feature's service). */
  shareLift: ShareLift
  /** Which auto-reply rules an owner created (the auto-reply feature's service): per-rule reports name only those. */
  ruleOwners: AutoReplyRuleOwners
  /** Writes this process's held-back term counts (read your own writes; other replicas' are at most a minute behind). */
  beforeTopics: () => Promise<void>
  /** Member pseudonyms for `?pseudonymise=1` exports. */
  pseudonym(memberId: string): string
}

/** Label of the one row that sums the hits of auto-reply rules the caller may not see (never named). */
export const OTHER_RULES = 'others'

/**
 * Per-rule figures as the caller may see them: admins every rule; owners and operators their own auto-reply
 * rules by id, and the hits of every other auto-reply rule (an admin's, another owner's) folded into one
 * unnamed `others` row, so totals still add up. Moderation detectors are built-in names, shown to all.
 */
export async function visibleRuleStats(rules: RuleStat[], auth: Principal | null, owners: AutoReplyRuleOwners): Promise<RuleStat[]> {
  if (!auth || auth.role === 'admin') return rules
  const own = new Set((await owners.ruleIdsOwnedBy(auth.tokenId)).map(String))
  const out: RuleStat[] = []
  let other: RuleStat | null = null
  for (const r of rules) {
    if (r.kind !== 'autoreply' || own.has(r.rule)) { out.push(r); continue }
    other ??= { kind: 'autoreply', rule: OTHER_RULES, hits: 0, actions: 0, reversals: 0, reversalRate: null }
    other.hits += r.hits
    other.actions += r.actions
    other.reversals += r.reversals
  }
  if (other) {
    other.reversalRate = other.hits > 0 ? Math.round((other.reversals / other.hits) * 10_000) / 10_000 : null
    // After the caller's own auto-reply rows, before the moderation rows (the order ruleStats returns).
    const at = out.findIndex((r) => r.kind !== 'autoreply')
    out.splice(at === -1 ? out.length : at, 0, other)
  }
  return out
}

function liftTable(list: ScheduleLift[]): Table {
  const header = ['scheduleId', 'name', 'groups', 'postWindows', 'baselineWindows', 'avgMessagesAfterPost', 'avgMessagesBaseline', 'avgMembersAfterPost', 'avgMembersBaseline', 'liftMessages', 'liftMembers'] as const
  return { header: [...header], rows: list.map((x) => header.map((h) => x[h])) }
}

function overviewTable(o: Overview): Table {
  const keys = Object.keys(o.change) as Array<keyof Overview['change']>
  return {
    header: ['figure', 'current', 'previous', 'change'],
    rows: [
      ['period', `${o.current.from}..${o.current.to}`, `${o.previous.from}..${o.previous.to}`, null],
      ...keys.map((k) => [k, o.current[k], o.previous[k], o.change[k]]),
      ...(['text', 'media', 'card', 'other'] as const).map((t) => [`messages.${t}`, o.current.messageTypes[t], o.previous.messageTypes[t], null]),
    ],
  }
}

function seriesTable(points: Array<Record<string, unknown>>): Table {
  const header = Object.keys(points[0] ?? { day: '' })
  return { header, rows: points.map((p) => header.map((h) => p[h] as string | number | null)) }
}

function mixTable(mix: MixPoint[]): Table {
  return { header: ['day', ...LIFECYCLE_STATES], rows: mix.map((p) => [p.day, ...LIFECYCLE_STATES.map((st) => p[st])]) }
}

function transitionTable(list: Transition[]): Table {
  return { header: ['from', 'to', 'count'], rows: list.map((t) => [t.from ?? '', t.to, t.count]) }
}

function topicsTable(t: { top: TermCount[]; rising: RisingTerm[] }): Table {
  return {
    header: ['list', 'rank', 'term', 'count', 'previous', 'growth'],
    rows: [...t.top.map((x, i) => ['top', i + 1, x.term, x.count, x.previous, null]), ...t.rising.map((x, i) => ['rising', i + 1, x.term, x.count, x.previous, x.growth])],
  }
}

function bestTimeTable(slots: PostSlot[]): Table {
  const header = ['weekday', 'hour', 'occurrences', 'messages', 'speakers', 'avgSpeakers', 'questions', 'resolved', 'responseRate', 'score'] as const
  return { header: [...header], rows: slots.map((x) => header.map((h) => x[h])) }
}

function questionsTable(q: { total: QuestionFigures; days: Array<{ day: string } & QuestionFigures> }): Table {
  const header = ['questions', 'resolved', 'byAutoReply', 'resolutionRate', 'medianMinutesToAnswer'] as const
  return { header: ['day', ...header], rows: [...q.days.map((d) => [d.day, ...header.map((h) => d[h])]), ['total', ...header.map((h) => q.total[h])]] }
}

function checkHourly(interval: 'day' | 'hour', range: Range): void {
  if (interval === 'hour' && range.days > MAX_HOURLY_DAYS) throw new HttpError(400, 'invalid_input', `hourly series cover at most ${MAX_HOURLY_DAYS} days`, [{ path: 'query.interval', message: `range of ${range.days} days` }])
}

/** The report routes: per group (`/groups/:id/stats/…`) and across the caller's groups (`/stats/…`); each has a `.csv` twin. */
export function statsRoutes(deps: StatsRouteDeps): RouteDefinition[] {
  const { db, clock, directory } = deps

  async function groupContext(id: string, query: { from?: string; to?: string }): Promise<{ range: Range; timezone: string; memberCount: number }> {
    const group = await directory.find(id)
    if (!group) throw groupNotFound()
    return { range: resolveRange(query, clock.now(), group.timezone), timezone: group.timezone, memberCount: group.memberCount }
  }

  /** The caller's scope, narrowed to `groupIds` (each must be one of theirs: 404 otherwise, like a missing group). */
  async function scopeOf(auth: Principal | null, groupIds: string[] | undefined): Promise<{ scope: Scope; memberCount: number }> {
    if (!auth) throw groupNotFound()
    if (groupIds && groupIds.some((g) => !auth.scope.has(g))) throw groupNotFound()
    const scope: Scope = groupIds ? { all: false, groupIds } : auth.scope.all ? { all: true } : { all: false, groupIds: [...auth.scope.groupIds] }
    const groups = await directory.activeGroups()
    const inScope = scope.all ? groups : groups.filter((g) => scope.groupIds.includes(g.id))
    return { scope, memberCount: inScope.reduce((n, g) => n + g.memberCount, 0) }
  }

  /** A JSON report route and its CSV twin. */
  function report<P, Q>(path: string, summary: string, schemas: { params?: ZodType<P>; query: ZodType<Q> }, groupParam: boolean,
    run: (input: { params: P; query: Q; auth: Principal | null }) => Promise<{ json: unknown; table: Table }>): RouteDefinition[] {
    const access = groupParam ? { ...READERS, groupParam: 'id' } : READERS
    return [
      defineRoute({ method: 'GET', path, summary, params: schemas.params, query: schemas.query, access, async handler(input) { return (await run(input)).json } }),
      defineRoute({
        method: 'GET', path: `${path}.csv`, summary: `${summary} (CSV, UTF-8 with BOM, at most ${MAX_CSV_ROWS} rows; ?pseudonymise=1 writes member ids as pseudonyms)`, params: schemas.params, query: withPseudonymise(schemas.query), access,
        contentType: 'text/csv; charset=utf-8',
        // Streamed: the rows (at most MAX_CSV_ROWS) are encoded chunk by chunk as the client reads.
        async handler(input) { const { table } = await run(input); return new StreamedBody(csvChunks(table.header, table.rows.slice(0, MAX_CSV_ROWS), csvOptions(input.query, deps.pseudonym))) },
      }),
    ]
  }

  /** Lift of the schedules the caller may see (their own; admins: all) over the range's local days. */
  const lift = (auth: Principal | null, scope: Scope, range: Range, timezone: string): Promise<ScheduleLift[]> =>
    deps.shareLift.lift(scope, dayStart(range.from, timezone), dayStart(addDays(range.to, 1), timezone), (owner) => canSeeOwned(auth, owner))

  const group = '/api/v1/groups/:id/stats'
  const across = '/api/v1/stats'
  return [
    ...report(`${group}/overview`, 'Overview of a group with period-over-period change', { params: GroupParams, query: RangeQuery }, true, async ({ params, query, auth }) => {
      const { range, timezone, memberCount } = await groupContext(params.id, query)
      const o = await overview(db, { all: false, groupIds: [params.id] }, range, memberCount)
      const postLift = await lift(auth, { all: false, groupIds: [params.id] }, range, timezone)
      return { json: { groupId: params.id, timezone, ...o, postLift }, table: overviewTable(o) }
    }),
    ...report(`${group}/series`, 'Daily (or hourly) series of a group', { params: GroupParams, query: SeriesQuery }, true, async ({ params, query }) => {
      const { range, timezone } = await groupContext(params.id, query)
      checkHourly(query.interval, range)
      const scope: Scope = { all: false, groupIds: [params.id] }
      const points = query.interval === 'hour' ? await hourlySeries(db, scope, range.from, range.to) : await dailySeries(db, scope, range.from, range.to)
      return { json: { groupId: params.id, timezone, ...range, interval: query.interval, points }, table: seriesTable(points as unknown as Array<Record<string, unknown>>) }
    }),
    ...report(`${group}/heatmap`, 'Weekday × hour heatmap of messages and speakers of a group', { params: GroupParams, query: RangeQuery }, true, async ({ params, query }) => {
      const { range, timezone } = await groupContext(params.id, query)
      const cells = await heatmap(db, { all: false, groupIds: [params.id] }, range.from, range.to)
      return { json: { groupId: params.id, timezone, ...range, cells }, table: seriesTable(cells as unknown as Array<Record<string, unknown>>) }
    }),
    ...report(`${group}/top-members`, 'Top members (messages, active days, check-ins, best streak in the range, streak alive at its end) and top inviters of a group', { params: GroupParams, query: TopQuery }, true, async ({ params, query }) => {
      const { range, timezone } = await groupContext(params.id, query)
      // One read of every member's range totals feeds both the ranking and the concentration shares.
      const [{ members, all }, inviters] = await Promise.all([topMembersReport(db, params.id, range.from, range.to, query.sort, query.limit), topInviters(db, params.id, range.from, range.to, query.limit)])
      const shares = concentrationOf(all)
      const names = new Map((await directory.members(params.id, { ids: [...new Set([...members, ...inviters].map((m) => m.memberId))], includeLeft: true })).map((m) => [m.id, m.name]))
      const named = members.map((m) => ({ ...m, name: names.get(m.memberId) ?? null }))
      const namedInviters = inviters.map((m) => ({ ...m, name: names.get(m.memberId) ?? null }))
      return {
        json: { groupId: params.id, timezone, ...range, sort: query.sort, members: named, inviters: namedInviters, concentration: shares },
        table: { header: ['rank', 'memberId', 'name', 'messages', 'activeDays', 'checkins', 'bestStreak', 'currentStreak'], rows: named.map((m, i) => [i + 1, m.memberId, m.name, m.messages, m.activeDays, m.checkins, m.bestStreak, m.currentStreak]) },
      }
    }),
    ...report(`${group}/retention`, 'Join-week retention cohorts of a group (share still speaking in week 1 … 12)', { params: GroupParams, query: RetentionQuery }, true, async ({ params, query }) => {
      const { range, timezone } = await groupContext(params.id, query)
      const cohorts = await retention(db, params.id, weekOf(range.from), weekOf(range.to), query.weeks, weekOf(localTime(clock.now(), timezone).day))
      const weekCols = Array.from({ length: query.weeks }, (_, i) => `week${i + 1}`)
      return {
        json: { groupId: params.id, timezone, ...range, weeks: query.weeks, cohorts },
        table: { header: ['cohortWeek', 'joined', ...weekCols], rows: cohorts.map((c) => [c.week, c.joined, ...c.rates]) },
      }
    }),
    ...report(`${group}/rules`, 'Auto-reply hits per rule and moderation hits per detector of a group', { params: GroupParams, query: RangeQuery }, true, async ({ params, query, auth }) => {
      const { range, timezone } = await groupContext(params.id, query)
      const rules = await visibleRuleStats(await ruleStats(db, { all: false, groupIds: [params.id] }, range.from, range.to), auth, deps.ruleOwners)
      return { json: { groupId: params.id, timezone, ...range, rules }, table: { header: ['kind', 'rule', 'hits', 'actions', 'reversals', 'reversalRate'], rows: rules.map((r) => [r.kind, r.rule, r.hits, r.actions, r.reversals, r.reversalRate]) } }
    }),
    ...report(`${group}/lifecycle`, 'Lifecycle mix of a group: members per state at the end of each day', { params: GroupParams, query: RangeQuery }, true, async ({ params, query }) => {
      const { range, timezone } = await groupContext(params.id, query)
      const mix = await lifecycleMix(db, { all: false, groupIds: [params.id] }, range.from, range.to)
      return { json: { groupId: params.id, timezone, ...range, states: LIFECYCLE_STATES, mix }, table: mixTable(mix) }
    }),
    ...report(`${group}/transitions`, 'Lifecycle transition counts (from → to) of a group over a range', { params: GroupParams, query: RangeQuery }, true, async ({ params, query }) => {
      const { range, timezone } = await groupContext(params.id, query)
      const list = await transitions(db, { all: false, groupIds: [params.id] }, range.from, range.to)
      return { json: { groupId: params.id, timezone, ...range, transitions: list }, table: transitionTable(list) }
    }),

    ...report(`${group}/topics`, 'Hot topics of a group: top terms and rising terms (vs the period before)', { params: GroupParams, query: TopicsQuery.omit({ groupIds: true }) }, true, async ({ params, query }) => {
      const { range, timezone } = await groupContext(params.id, query)
      await deps.beforeTopics()
      const t = await topics(db, { all: false, groupIds: [params.id] }, range.from, range.to, query.limit, query.minCount)
      return { json: { groupId: params.id, timezone, ...range, minCount: query.minCount, ...t }, table: topicsTable(t) }
    }),
    ...report(`${group}/best-time`, 'Best time to post in a group: weekday × hour slots by audience and response rate', { params: GroupParams, query: BestTimeQuery.omit({ groupIds: true }) }, true, async ({ params, query }) => {
      const { range, timezone } = await groupContext(params.id, query)
      const b = await bestTime(db, { all: false, groupIds: [params.id] }, range.from, range.to, query.top)
      return { json: { groupId: params.id, timezone, ...range, method: BEST_TIME_METHOD, ...b }, table: bestTimeTable(b.slots) }
    }),
    ...report(`${group}/post-lift`, "Post lift per scheduled share in a group: messages and members in the 30 minutes after posts vs runs without a post (the caller's own schedules; admins: all)", { params: GroupParams, query: RangeQuery }, true, async ({ params, query, auth }) => {
      const { range, timezone } = await groupContext(params.id, query)
      const schedules = await lift(auth, { all: false, groupIds: [params.id] }, range, timezone)
      return { json: { groupId: params.id, timezone, ...range, schedules }, table: liftTable(schedules) }
    }),
    ...report(`${group}/questions`, 'Question resolution of a group: questions, share answered, median minutes to answer, per day', { params: GroupParams, query: QuestionsQuery.omit({ groupIds: true }) }, true, async ({ params, query }) => {
      const { range, timezone } = await groupContext(params.id, query)
      const q = await questionStats(db, { all: false, groupIds: [params.id] }, range.from, range.to)
      return { json: { groupId: params.id, timezone, ...range, ...q }, table: questionsTable(q) }
    }),

    ...report(`${across}/overview`, "Overview across the caller's groups (admins: all groups) with period-over-period change", { query: ScopeQuery }, false, async ({ query, auth }) => {
      const { scope, memberCount } = await scopeOf(auth, query.groupIds)
      const range = resolveRange(query, clock.now(), deps.timezone)
      const o = await overview(db, scope, range, memberCount)
      const postLift = await lift(auth, scope, range, deps.timezone)
      return { json: { groups: scope.all ? 'all' : scope.groupIds.length, ...o, postLift }, table: overviewTable(o) }
    }),
    ...report(`${across}/series`, "Daily (or hourly) series across the caller's groups", { query: ScopeSeriesQuery }, false, async ({ query, auth }) => {
      const { scope } = await scopeOf(auth, query.groupIds)
      const range = resolveRange(query, clock.now(), deps.timezone)
      checkHourly(query.interval, range)
      const points = query.interval === 'hour' ? await hourlySeries(db, scope, range.from, range.to) : await dailySeries(db, scope, range.from, range.to)
      return { json: { ...range, interval: query.interval, points }, table: seriesTable(points as unknown as Array<Record<string, unknown>>) }
    }),
    ...report(`${across}/heatmap`, "Weekday × hour heatmap across the caller's groups", { query: ScopeQuery }, false, async ({ query, auth }) => {
      const { scope } = await scopeOf(auth, query.groupIds)
      const range = resolveRange(query, clock.now(), deps.timezone)
      const cells = await heatmap(db, scope, range.from, range.to)
      return { json: { ...range, cells }, table: seriesTable(cells as unknown as Array<Record<string, unknown>>) }
    }),
    ...report(`${across}/groups`, "Per-group totals across the caller's groups, most messages first", { query: GroupTableQuery }, false, async ({ query, auth }) => {
      const { scope } = await scopeOf(auth, query.groupIds)
      const range = resolveRange(query, clock.now(), deps.timezone)
      const rows = await groupTable(db, scope, range.from, range.to, query.limit)
      const header = ['groupId', 'messages', 'activeDays', 'joins', 'leaves', 'checkins', 'autoReplyHits', 'moderationHits', 'moderationActions'] as const
      return { json: { ...range, groups: rows }, table: { header: [...header], rows: rows.map((r) => header.map((h) => r[h])) } }
    }),
    ...report(`${across}/alerts`, "Dead-group alerts: the caller's groups whose last week fell below a percentile of their own past weeks", { query: AlertsQuery }, false, async ({ query, auth }) => {
      const { scope } = await scopeOf(auth, query.groupIds)
      const to = query.to ?? localTime(clock.now(), deps.timezone).day
      const groups = await quietGroups(db, scope, to, query.weeks, query.percentile)
      return {
        json: { to, weeks: query.weeks, percentile: query.percentile, groups },
        table: { header: ['groupId', 'lastWeekMessages', 'threshold', 'weeks'], rows: groups.map((g) => [g.groupId, g.lastWeekMessages, g.threshold, g.weeks]) },
      }
    }),
    ...report(`${across}/lifecycle`, "Lifecycle mix across the caller's groups: members per state at the end of each day", { query: ScopeQuery }, false, async ({ query, auth }) => {
      const { scope } = await scopeOf(auth, query.groupIds)
      const range = resolveRange(query, clock.now(), deps.timezone)
      const mix = await lifecycleMix(db, scope, range.from, range.to)
      return { json: { ...range, states: LIFECYCLE_STATES, mix }, table: mixTable(mix) }
    }),
    ...report(`${across}/transitions`, "Lifecycle transition counts (from → to) across the caller's groups", { query: ScopeQuery }, false, async ({ query, auth }) => {
      const { scope } = await scopeOf(auth, query.groupIds)
      const range = resolveRange(query, clock.now(), deps.timezone)
      const list = await transitions(db, scope, range.from, range.to)
      return { json: { ...range, transitions: list }, table: transitionTable(list) }
    }),
    ...report(`${across}/rules`, "Auto-reply and moderation hits per rule across the caller's groups", { query: ScopeQuery }, false, async ({ query, auth }) => {
      const { scope } = await scopeOf(auth, query.groupIds)
      const range = resolveRange(query, clock.now(), deps.timezone)
      const rules = await visibleRuleStats(await ruleStats(db, scope, range.from, range.to), auth, deps.ruleOwners)
      return { json: { ...range, rules }, table: { header: ['kind', 'rule', 'hits', 'actions', 'reversals', 'reversalRate'], rows: rules.map((r) => [r.kind, r.rule, r.hits, r.actions, r.reversals, r.reversalRate]) } }
    }),
    ...report(`${across}/topics`, "Hot topics across the caller's groups: top terms and rising terms (vs the period before)", { query: TopicsQuery }, false, async ({ query, auth }) => {
      const { scope } = await scopeOf(auth, query.groupIds)
      const range = resolveRange(query, clock.now(), deps.timezone)
      await deps.beforeTopics()
      const t = await topics(db, scope, range.from, range.to, query.limit, query.minCount)
      return { json: { ...range, minCount: query.minCount, ...t }, table: topicsTable(t) }
    }),
    ...report(`${across}/best-time`, "Best time to post across the caller's groups (each group's local hours)", { query: BestTimeQuery }, false, async ({ query, auth }) => {
      const { scope } = await scopeOf(auth, query.groupIds)
      const range = resolveRange(query, clock.now(), deps.timezone)
      const b = await bestTime(db, scope, range.from, range.to, query.top)
      return { json: { ...range, method: BEST_TIME_METHOD, ...b }, table: bestTimeTable(b.slots) }
    }),
    ...report(`${across}/post-lift`, "Post lift per scheduled share across the caller's groups (their own schedules; admins: all)", { query: ScopeQuery }, false, async ({ query, auth }) => {
      const { scope } = await scopeOf(auth, query.groupIds)
      const range = resolveRange(query, clock.now(), deps.timezone)
      const schedules = await lift(auth, scope, range, deps.timezone)
      return { json: { ...range, schedules }, table: liftTable(schedules) }
    }),
    ...report(`${across}/questions`, "Question resolution across the caller's groups, per day", { query: QuestionsQuery }, false, async ({ query, auth }) => {
      const { scope } = await scopeOf(auth, query.groupIds)
      const range = resolveRange(query, clock.now(), deps.timezone)
      const q = await questionStats(db, scope, range.from, range.to)
      return { json: { ...range, ...q }, table: questionsTable(q) }
    }),
  ]
}
