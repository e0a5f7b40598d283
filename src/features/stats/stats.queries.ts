import type { FeatureTables } from '../../adapters/db/feature-store'
import { LIFECYCLE_STATES, type LifecycleState } from '../../contracts/tagging'
import { addDays } from '../../kernel/time'
import { FIRST_SEEN } from './stats.events'
import { reachCount } from './stats.reach'
import { groupRangeTotals } from './stats.running'
import { memberRangeTotals } from './stats.member-running'
import { daysBetween, weekdayOf } from './stats.time'

/** Which groups a report covers: every group (admins), or a list (one group, an owner's groups). */
export type Scope = { all: true } | { all: false; groupIds: readonly string[] }

/** A WHERE fragment restricting `group_id` to the scope. */
export function scoped(scope: Scope, column = 'group_id'): { sql: string; params: string[] } {
  if (scope.all) return { sql: '1 = 1', params: [] }
  if (scope.groupIds.length === 0) return { sql: '1 = 0', params: [] }
  if (scope.groupIds.length === 1) return { sql: `${column} = ?`, params: [...scope.groupIds] }
  return { sql: `${column} IN (${scope.groupIds.map(() => '?').join(',')})`, params: [...scope.groupIds] }
}

/**
 * The day (or hour) rollup a scope reads, with its WHERE fragment: every group reads the all-group rows
 * (one per day or hour, see stats.scope.ts), a list of groups the group rows.
 */
function rollup(scope: Scope, grain: 'day' | 'hour'): { table: string; sql: string; params: string[] } {
  if (scope.all) return { table: grain === 'day' ? 'qy_stats_all_day' : 'qy_stats_all_hour', sql: '1 = 1', params: [] }
  return { table: grain === 'day' ? 'qy_stats_group_day' : 'qy_stats_group_hour', ...scoped(scope) }
}

const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v))

/** Totals of a day range from the group-day rollup. */
export interface Totals {
  messages: number
  text: number
  media: number
  card: number
  other: number
  /** Sum over days of each day's distinct speakers (÷ days = average DAU). */
  activeDays: number
  joins: number
  leaves: number
  checkins: number
  autoReplyHits: number
  moderationHits: number
  moderationActions: number
}

const TOTAL_COLUMNS = 'SUM(messages) AS messages, SUM(text_count) AS text, SUM(media_count) AS media, SUM(card_count) AS card, SUM(other_count) AS other, SUM(active) AS active_days, SUM(joins) AS joins, SUM(leaves) AS leaves, SUM(checkins) AS checkins, SUM(autoreply_hits) AS autoreply_hits, SUM(moderation_hits) AS moderation_hits, SUM(moderation_actions) AS moderation_actions'

function toTotals(r: Record<string, unknown> | undefined): Totals {
  return {
    messages: num(r?.messages), text: num(r?.text), media: num(r?.media), card: num(r?.card), other: num(r?.other), activeDays: num(r?.active_days),
    joins: num(r?.joins), leaves: num(r?.leaves), checkins: num(r?.checkins), autoReplyHits: num(r?.autoreply_hits),
    moderationHits: num(r?.moderation_hits), moderationActions: num(r?.moderation_actions),
  }
}

/** Totals over [from, to]. */
export async function totals(db: FeatureTables, scope: Scope, from: string, to: string): Promise<Totals> {
  const s = rollup(scope, 'day')
  const rows = await db.query(`SELECT ${TOTAL_COLUMNS} FROM ${s.table} WHERE ${s.sql} AND day >= ? AND day <= ?`, [...s.params, from, to])
  return toTotals(rows[0])
}

/** Net joins (joins − leaves) after `day` (to rewind today's member count to the end of a period). */
export async function netJoinsAfter(db: FeatureTables, scope: Scope, day: string): Promise<number> {
  const s = rollup(scope, 'day')
  const rows = await db.query<{ net: unknown }>(`SELECT SUM(joins) - SUM(leaves) AS net FROM ${s.table} WHERE ${s.sql} AND day > ?`, [...s.params, day])
  return num(rows[0]?.net)
}

/** Bit mask of days `fromDay` … `toDay` (1-based day numbers of one month). */
function dayMask(fromDay: number, toDay: number): number {
  let mask = 0
  for (let d = fromDay; d <= toDay; d++) mask |= 1 << (d - 1)
  return mask
}

/**
 * Distinct members who spoke in [from, to], from the reach rows (stats.reach.ts: a sum over at most one
 * row per day and previous active day). Member-group pairs: a person active in two groups of the scope
 * counts twice (groups are the unit operators compare).
 */
export async function distinctActive(db: FeatureTables, scope: Scope, from: string, to: string): Promise<number> {
  return reachCount(db, scope, from, to)
}

/**
 * The same figure from the member-month bit masks (one row per member and month read): what reports used
 * before the reach rows; kept as an independent cross-check (the property test compares both with a recount).
 */
export async function distinctActiveFromMasks(db: FeatureTables, scope: Scope, from: string, to: string): Promise<number> {
  const s = scoped(scope)
  const first = from.slice(0, 7)
  const last = to.slice(0, 7)
  const fromDay = Number(from.slice(8, 10))
  const toDay = Number(to.slice(8, 10))
  if (first === last) {
    const rows = await db.query<{ n: unknown }>(`SELECT COUNT(*) AS n FROM qy_stats_member_month WHERE ${s.sql} AND month = ? AND (days & ?) <> 0`, [...s.params, first, dayMask(fromDay, toDay)])
    return num(rows[0]?.n)
  }
  const where = `${s.sql} AND month >= ? AND month <= ? AND (CASE month WHEN ? THEN days & ? WHEN ? THEN days & ? ELSE days END) <> 0`
  // MySQL: COUNT(DISTINCT a, b) keeps the pairs in an in-memory unique tree; a DISTINCT derived table
  // materializes a temporary table keyed by two utf8mb4 varchar(191) columns, which spills to disk — 6.8 s
  // against 0.7 s for two months of 1,000 groups. SQLite has no multi-column COUNT(DISTINCT).
  const sql = db.dialect === 'mysql'
    ? `SELECT COUNT(DISTINCT group_id, member_id) AS n FROM qy_stats_member_month WHERE ${where}`
    : `SELECT COUNT(*) AS n FROM (SELECT DISTINCT group_id, member_id FROM qy_stats_member_month WHERE ${where}) x`
  const rows = await db.query<{ n: unknown }>(sql, [...s.params, first, last, first, dayMask(fromDay, 31), last, dayMask(1, toDay)])
  return num(rows[0]?.n)
}

/** One day of the daily series. */
export interface DayPoint extends Totals { day: string; lotteryEntries: number; lotteryEntrants: number; lotteriesDrawn: number }

/** Daily series over [from, to]; days without rows are zeros. */
export async function dailySeries(db: FeatureTables, scope: Scope, from: string, to: string): Promise<DayPoint[]> {
  const s = rollup(scope, 'day')
  const [rows, lottery] = await Promise.all([
    db.query(`SELECT day, ${TOTAL_COLUMNS} FROM ${s.table} WHERE ${s.sql} AND day >= ? AND day <= ? GROUP BY day`, [...s.params, from, to]),
    lotteryDaily(db, scope, from, to),
  ])
  const byDay = new Map(rows.map((r) => [String(r.day), r]))
  const out: DayPoint[] = []
  for (let i = 0, n = daysBetween(from, to); i < n; i++) {
    const day = addDays(from, i)
    const l = lottery.get(day)
    out.push({ day, ...toTotals(byDay.get(day)), lotteryEntries: l?.entries ?? 0, lotteryEntrants: l?.entrants ?? 0, lotteriesDrawn: l?.drawn ?? 0 })
  }
  return out
}

/** One hour of the hourly series. */
export interface HourPoint { day: string; hour: number; messages: number; speakers: number }

/** Hourly series over [from, to] (group-local hours); hours without rows are zeros. */
export async function hourlySeries(db: FeatureTables, scope: Scope, from: string, to: string): Promise<HourPoint[]> {
  const s = rollup(scope, 'hour')
  const rows = await db.query(`SELECT day, hour, SUM(messages) AS messages, SUM(speakers) AS speakers FROM ${s.table} WHERE ${s.sql} AND day >= ? AND day <= ? GROUP BY day, hour`, [...s.params, from, to])
  const byKey = new Map(rows.map((r) => [`${String(r.day)} ${num(r.hour)}`, r]))
  const out: HourPoint[] = []
  for (let i = 0, n = daysBetween(from, to); i < n; i++) {
    const day = addDays(from, i)
    for (let hour = 0; hour < 24; hour++) {
      const r = byKey.get(`${day} ${hour}`)
      out.push({ day, hour, messages: num(r?.messages), speakers: num(r?.speakers) })
    }
  }
  return out
}

/** A heatmap cell: weekday (0 = Monday) × hour. Speakers are summed over the hours of the range. */
export interface HeatCell { weekday: number; hour: number; messages: number; speakers: number }

/** Weekday × hour heatmap over [from, to]: all 168 cells. */
export async function heatmap(db: FeatureTables, scope: Scope, from: string, to: string): Promise<HeatCell[]> {
  const s = rollup(scope, 'hour')
  // Grouped by (day, hour), the order of the (day, hour, …) covering index, so the database aggregates as it
  // reads instead of sorting every hour row of the scope into a temporary tree; the days (at most 24 rows
  // each) are folded into weekdays here. Across 1,000 groups and 30 days that is 3× less CPU on SQLite.
  const rows = await db.query(`SELECT day, hour, SUM(messages) AS messages, SUM(speakers) AS speakers FROM ${s.table} WHERE ${s.sql} AND day >= ? AND day <= ? GROUP BY day, hour`, [...s.params, from, to])
  const cells: HeatCell[] = []
  for (let weekday = 0; weekday < 7; weekday++) for (let hour = 0; hour < 24; hour++) cells.push({ weekday, hour, messages: 0, speakers: 0 })
  const weekdays = new Map<string, number>()
  for (const r of rows) {
    const day = String(r.day)
    let weekday = weekdays.get(day)
    if (weekday === undefined) { weekday = weekdayOf(day); weekdays.set(day, weekday) }
    const cell = cells[weekday * 24 + num(r.hour)]
    if (cell) { cell.messages += num(r.messages); cell.speakers += num(r.speakers) }
  }
  return cells
}

/** Sort keys of the top-members report. */
export const TOP_SORTS = ['messages', 'activeDays', 'checkins', 'bestStreak', 'currentStreak', 'streak'] as const
/** One row of the top-members report. */
export interface TopMember {
  memberId: string
  messages: number
  activeDays: number
  checkins: number
  /** The longest check-in streak reached on a day of the range. */
  bestStreak: number
  /** The check-in streak alive at the end of the range: reached on its last day or the day before (as the check-in feature counts it), else 0. */
  currentStreak: number
}

/**
 * Reads a day range through the covering index: left alone, planners prefer the (group, member, day)
 * index because it avoids sorting for GROUP BY member_id, and then walk every day of the group's history.
 */
function coverIndex(db: FeatureTables): string {
  return db.dialect === 'mysql' ? 'FORCE INDEX (idx_stats_member_day_cover)' : 'INDEXED BY idx_stats_member_day_cover'
}

/**
 * Every member of one group with activity in [from, to], unordered: one GROUP BY over the group's
 * member-day rows of the range. The top-members report ranks these in memory and derives the
 * participation concentration from the same rows (one pass instead of two GROUP BYs plus an ORDER BY on
 * an aggregate, which needed a temporary table and a filesort on MySQL). At most one row per member of
 * the group, so the ranking costs little next to the scan.
 */
export async function memberTotals(db: FeatureTables, groupId: string, from: string, to: string): Promise<TopMember[]> {
  const rows = await db.query(
    `SELECT member_id, SUM(messages) AS messages, COUNT(*) AS active_days, SUM(checkins) AS checkins, MAX(streak) AS best_streak FROM qy_stats_member_day ${coverIndex(db)} WHERE group_id = ? AND day >= ? AND day <= ? GROUP BY member_id`,
    [groupId, from, to])
  // Streaks alive at the end of the range: check-ins on its last day or the day before (two days of rows).
  const alive = await db.query(`SELECT member_id, day, streak FROM qy_stats_member_day ${coverIndex(db)} WHERE group_id = ? AND day >= ? AND day <= ? AND streak > 0`, [groupId, addDays(to, -1), to])
  const current = new Map<string, { day: string; streak: number }>()
  for (const r of alive) {
    const seen = current.get(String(r.member_id))
    if (!seen || String(r.day) > seen.day) current.set(String(r.member_id), { day: String(r.day), streak: num(r.streak) })
  }
  return rows.map((r) => ({
    memberId: String(r.member_id), messages: num(r.messages), activeDays: num(r.active_days), checkins: num(r.checkins), bestStreak: num(r.best_streak),
    currentStreak: current.get(String(r.member_id))?.streak ?? 0,
  }))
}

/** The first `limit` members by `sort` (descending; ties by member id, ascending). `streak` is the older name of `bestStreak`. */
export function rankMembers(all: readonly TopMember[], sort: typeof TOP_SORTS[number], limit: number): TopMember[] {
  const key = ({ messages: 'messages', activeDays: 'activeDays', checkins: 'checkins', bestStreak: 'bestStreak', currentStreak: 'currentStreak', streak: 'bestStreak' } as const)[sort]
  return [...all].sort((a, b) => b[key] - a[key] || (a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0)).slice(0, limit)
}

/** Members of one group ranked by `sort` over [from, to]. */
export async function topMembers(db: FeatureTables, groupId: string, from: string, to: string, sort: typeof TOP_SORTS[number], limit: number): Promise<TopMember[]> {
  return rankMembers(await memberTotals(db, groupId, from, to), sort, limit)
}

/** Sorts the member running totals can rank by (the streak sorts need every member's member-day rows). */
const RUNNING_SORTS = new Set<typeof TOP_SORTS[number]>(['messages', 'activeDays', 'checkins'])

/**
 * The top-members report: the first `limit` members by `sort` and every member's messages (the
 * concentration shares). Sorted by messages, active days or check-ins, the totals come from the member
 * running rows (two rows per member, stats.member-running.ts) and the streaks are read for the listed
 * members only (their member-day rows of the range); the streak sorts read every member-day row of the
 * range (`memberTotals`).
 */
export async function topMembersReport(db: FeatureTables, groupId: string, from: string, to: string, sort: typeof TOP_SORTS[number], limit: number): Promise<{ members: TopMember[]; all: TopMember[] }> {
  if (!RUNNING_SORTS.has(sort)) {
    const all = await memberTotals(db, groupId, from, to)
    return { members: rankMembers(all, sort, limit), all }
  }
  const all: TopMember[] = (await memberRangeTotals(db, groupId, from, to)).map((m) => ({ ...m, bestStreak: 0, currentStreak: 0 }))
  const members = rankMembers(all, sort, limit)
  if (members.length === 0) return { members, all }
  const ids = members.map((m) => m.memberId)
  const inList = ids.map(() => '?').join(',')
  const [best, alive] = await Promise.all([
    db.query(`SELECT member_id, MAX(streak) AS best FROM qy_stats_member_day WHERE group_id = ? AND member_id IN (${inList}) AND day >= ? AND day <= ? GROUP BY member_id`, [groupId, ...ids, from, to]),
    db.query(`SELECT member_id, day, streak FROM qy_stats_member_day WHERE group_id = ? AND member_id IN (${inList}) AND day >= ? AND day <= ? AND streak > 0`, [groupId, ...ids, addDays(to, -1), to]),
  ])
  const bestOf = new Map(best.map((r) => [String(r.member_id), num(r.best)]))
  const current = new Map<string, { day: string; streak: number }>()
  for (const r of alive) {
    const seen = current.get(String(r.member_id))
    if (!seen || String(r.day) > seen.day) current.set(String(r.member_id), { day: String(r.day), streak: num(r.streak) })
  }
  for (const m of members) { m.bestStreak = bestOf.get(m.memberId) ?? 0; m.currentStreak = current.get(m.memberId)?.streak ?? 0 }
  return { members, all }
}

/** Share of messages sent by the most active 1% and 10% of speakers (at least one member each), from per-member totals. */
export function concentrationOf(all: readonly TopMember[]): { speakers: number; top1pct: number | null; top10pct: number | null } {
  const counts = all.map((m) => m.messages).filter((n) => n > 0).sort((a, b) => b - a)
  const total = counts.reduce((a, b) => a + b, 0)
  if (total === 0) return { speakers: 0, top1pct: null, top10pct: null }
  const share = (fraction: number): number => round(counts.slice(0, Math.max(1, Math.ceil(counts.length * fraction))).reduce((a, b) => a + b, 0) / total)
  return { speakers: counts.length, top1pct: share(0.01), top10pct: share(0.1) }
}

/** Share of a group's messages sent by its most active 1% and 10% of speakers over [from, to]. */
export async function concentration(db: FeatureTables, groupId: string, from: string, to: string): Promise<{ speakers: number; top1pct: number | null; top10pct: number | null }> {
  return concentrationOf(await memberTotals(db, groupId, from, to))
}

/** A group whose last week was quieter than almost every week of its own recent past. */
export interface QuietGroup { groupId: string; lastWeekMessages: number; threshold: number; weeks: number }

/**
 * Dead-group alerts: groups whose messages in the 7 days ending `to` fell below the `percentile` of their
 * own weekly totals over the `weeks` weeks before (groups with fewer than 4 past weeks of data are skipped).
 */
export async function quietGroups(db: FeatureTables, scope: Scope, to: string, weeks: number, percentile: number): Promise<QuietGroup[]> {
  const s = scoped(scope)
  const from = addDays(to, -(7 * (weeks + 1) - 1))
  const rows = await db.query(`SELECT group_id, day, messages FROM qy_stats_group_day WHERE ${s.sql} AND day >= ? AND day <= ?`, [...s.params, from, to])
  const byGroup = new Map<string, number[]>()
  for (const r of rows) {
    const index = Math.floor((daysBetween(String(r.day), to) - 1) / 7)
    let totals = byGroup.get(String(r.group_id))
    if (!totals) byGroup.set(String(r.group_id), (totals = new Array<number>(weeks + 1).fill(0)))
    totals[index] = (totals[index] ?? 0) + num(r.messages)
  }
  const out: QuietGroup[] = []
  for (const [groupId, totals] of byGroup) {
    // Weeks before the group's first activity in the window are not its past.
    let oldest = totals.length - 1
    while (oldest > 0 && totals[oldest] === 0) oldest--
    const past = totals.slice(1, oldest + 1)
    if (past.length < 4) continue
    const sorted = [...past].sort((a, b) => a - b)
    const threshold = sorted[Math.floor((percentile / 100) * (sorted.length - 1))] as number
    const last = totals[0] as number
    if (last < threshold) out.push({ groupId, lastWeekMessages: last, threshold, weeks: past.length })
  }
  return out.sort((a, b) => a.lastWeekMessages / Math.max(1, a.threshold) - b.lastWeekMessages / Math.max(1, b.threshold) || (a.groupId < b.groupId ? -1 : 1))
}

/** Members of one group ranked by how many members they invited over [from, to]. */
export async function topInviters(db: FeatureTables, groupId: string, from: string, to: string, limit: number): Promise<Array<{ memberId: string; invites: number }>> {
  const rows = await db.query('SELECT member_id, SUM(invites) AS invites FROM qy_stats_inviter_day WHERE group_id = ? AND day >= ? AND day <= ? GROUP BY member_id ORDER BY invites DESC, member_id ASC LIMIT ?', [groupId, from, to, limit])
  return rows.map((r) => ({ memberId: String(r.member_id), invites: num(r.invites) }))
}

/** One join-week cohort: its size and the share still speaking in each following week (1 … weeks). */
export interface Cohort { week: string; joined: number; retained: number[]; rates: Array<number | null> }

/**
 * Join-week retention of one group: members whose latest join fell in a week between the weeks of `from`
 * and `to`, and how many of them spoke in week 1, 2, … `weeks` after it. Weeks not yet over (after
 * `today`'s week) are null.
 */
export async function retention(db: FeatureTables, groupId: string, fromWeek: string, toWeek: string, weeks: number, todayWeek: string): Promise<Cohort[]> {
  const sizes = await db.query('SELECT joined_week, COUNT(*) AS n FROM qy_stats_member WHERE group_id = ? AND joined_week >= ? AND joined_week <= ? GROUP BY joined_week', [groupId, fromWeek, toWeek])
  const active = await db.query(
    `SELECT m.joined_week AS cohort, d.week AS week, COUNT(DISTINCT d.member_id) AS n FROM qy_stats_member m
     JOIN qy_stats_member_day d ON d.group_id = m.group_id AND d.member_id = m.member_id AND d.day >= m.joined_day
     WHERE m.group_id = ? AND m.joined_week >= ? AND m.joined_week <= ? AND d.week > m.joined_week AND d.week <= ?
     GROUP BY m.joined_week, d.week`,
    [groupId, fromWeek, toWeek, addDays(toWeek, weeks * 7)])
  const byCohort = new Map<string, Map<number, number>>()
  for (const r of active) {
    const k = Math.round(daysBetween(String(r.cohort), String(r.week)) / 7)
    if (k < 1 || k > weeks) continue
    let m = byCohort.get(String(r.cohort))
    if (!m) byCohort.set(String(r.cohort), (m = new Map()))
    m.set(k, num(r.n))
  }
  const bySize = new Map(sizes.map((r) => [String(r.joined_week), num(r.n)]))
  const out: Cohort[] = []
  for (let week = fromWeek; week <= toWeek; week = addDays(week, 7)) {
    const joined = bySize.get(week) ?? 0
    if (joined === 0) continue
    const retained: number[] = []
    const rates: Array<number | null> = []
    for (let k = 1; k <= weeks; k++) {
      const n = byCohort.get(week)?.get(k) ?? 0
      retained.push(n)
      rates.push(addDays(week, k * 7) > todayWeek ? null : round(n / joined))
    }
    out.push({ week, joined, retained, rates })
  }
  return out
}

/** Hits and actions per rule over [from, to]. */
export interface RuleStat {
  kind: string
  rule: string
  hits: number
  actions: number
  /** Moderation: hits an owner marked as false positives. */
  reversals: number
  /** reversals ÷ hits (null without hits). */
  reversalRate: number | null
}

/** Auto-reply rules and moderation detectors by hits over [from, to]. */
export async function ruleStats(db: FeatureTables, scope: Scope, from: string, to: string): Promise<RuleStat[]> {
  const s = scoped(scope)
  const rows = await db.query(`SELECT kind, rule, SUM(hits) AS hits, SUM(actions) AS actions, SUM(reversals) AS reversals FROM qy_stats_rule_day WHERE ${s.sql} AND day >= ? AND day <= ? GROUP BY kind, rule ORDER BY kind, hits DESC, rule`, [...s.params, from, to])
  return rows.map((r) => ({ kind: String(r.kind), rule: String(r.rule), hits: num(r.hits), actions: num(r.actions), reversals: num(r.reversals), reversalRate: num(r.hits) > 0 ? round(num(r.reversals) / num(r.hits)) : null }))
}

/** Per-group totals over [from, to] (the cross-group table), most messages first. */
export async function groupTable(db: FeatureTables, scope: Scope, from: string, to: string, limit: number): Promise<Array<{ groupId: string } & Totals>> {
  return groupRangeTotals(db, scope, from, to, limit)
}

/** The same table summed from the group-day rows (one row per group and day of the range): the property test's reference. */
export async function groupTableFromDays(db: FeatureTables, scope: Scope, from: string, to: string, limit: number): Promise<Array<{ groupId: string } & Totals>> {
  const s = scoped(scope)
  const rows = await db.query(`SELECT group_id, ${TOTAL_COLUMNS} FROM qy_stats_group_day WHERE ${s.sql} AND day >= ? AND day <= ? GROUP BY group_id ORDER BY messages DESC, group_id LIMIT ?`, [...s.params, from, to, limit])
  return rows.map((r) => ({ groupId: String(r.group_id), ...toTotals(r) }))
}

/** Rounds a ratio to 4 decimals (reports, not accounting). */
export function round(x: number): number {
  return Math.round(x * 10_000) / 10_000
}

/** Lottery figures of a day range. */
export interface LotteryTotals {
  /** Lottery entries (one per member and lottery). */
  entries: number
  /** Distinct entrants (member-group pairs, like active members). */
  entrants: number
  /** Distinct lotteries drawn in the scope's groups (a lottery run in two groups counts once). */
  drawn: number
}

/** Lottery entries, distinct entrants and lotteries drawn over [from, to]. */
export async function lotteryTotals(db: FeatureTables, scope: Scope, from: string, to: string): Promise<LotteryTotals> {
  const s = scoped(scope)
  const [entries, drawn] = await Promise.all([
    db.query(`SELECT COUNT(*) AS entrants, SUM(e) AS entries FROM (SELECT group_id, member_id, SUM(entries) AS e FROM qy_stats_lottery_day WHERE ${s.sql} AND day >= ? AND day <= ? GROUP BY group_id, member_id) x`, [...s.params, from, to]),
    db.query(`SELECT COUNT(DISTINCT lottery_id) AS n FROM qy_stats_lottery_draw WHERE ${s.sql} AND day >= ? AND day <= ?`, [...s.params, from, to]),
  ])
  return { entries: num(entries[0]?.entries), entrants: num(entries[0]?.entrants), drawn: num(drawn[0]?.n) }
}

/** Lottery figures per day over [from, to] (days without rows are absent). */
export async function lotteryDaily(db: FeatureTables, scope: Scope, from: string, to: string): Promise<Map<string, LotteryTotals>> {
  const s = scoped(scope)
  const [entries, drawn] = await Promise.all([
    // One row per group, day and member: the rows of a day are its distinct entrants.
    db.query(`SELECT day, COUNT(*) AS entrants, SUM(entries) AS entries FROM qy_stats_lottery_day WHERE ${s.sql} AND day >= ? AND day <= ? GROUP BY day`, [...s.params, from, to]),
    db.query(`SELECT day, COUNT(DISTINCT lottery_id) AS n FROM qy_stats_lottery_draw WHERE ${s.sql} AND day >= ? AND day <= ? GROUP BY day`, [...s.params, from, to]),
  ])
  const out = new Map<string, LotteryTotals>()
  const at = (day: string): LotteryTotals => {
    let t = out.get(day)
    if (!t) out.set(day, (t = { entries: 0, entrants: 0, drawn: 0 }))
    return t
  }
  for (const r of entries) Object.assign(at(String(r.day)), { entries: num(r.entries), entrants: num(r.entrants) })
  for (const r of drawn) at(String(r.day)).drawn = num(r.n)
  return out
}

/** Lifecycle transition counts (from → to; `from` null for members first seen). */
export interface Transition { from: LifecycleState | null; to: LifecycleState; count: number }

const state = (v: unknown): LifecycleState | null => (String(v) === FIRST_SEEN ? null : String(v) as LifecycleState)

/** Transitions over [from, to], most frequent first. */
export async function transitions(db: FeatureTables, scope: Scope, from: string, to: string): Promise<Transition[]> {
  const s = scoped(scope)
  const rows = await db.query(`SELECT from_state, to_state, SUM(n) AS n FROM qy_stats_lifecycle_day WHERE ${s.sql} AND day >= ? AND day <= ? GROUP BY from_state, to_state ORDER BY n DESC, from_state, to_state`, [...s.params, from, to])
  return rows.map((r) => ({ from: state(r.from_state), to: state(r.to_state) as LifecycleState, count: num(r.n) }))
}

/** Members in each lifecycle state at the end of a day. */
export type MixPoint = { day: string } & Record<LifecycleState, number>

/**
 * Lifecycle mix per day over [from, to]: members in each state at the end of each day, replayed from the
 * transitions (a transition adds one to its `to` state and takes one from its `from` state), starting from
 * the sum of every transition before `from`. Members whose first transition stats never saw are missing.
 */
export async function lifecycleMix(db: FeatureTables, scope: Scope, from: string, to: string): Promise<MixPoint[]> {
  const s = scoped(scope)
  const [before, inRange] = await Promise.all([
    db.query(`SELECT from_state, to_state, SUM(n) AS n FROM qy_stats_lifecycle_day WHERE ${s.sql} AND day < ? GROUP BY from_state, to_state`, [...s.params, from]),
    db.query(`SELECT day, from_state, to_state, SUM(n) AS n FROM qy_stats_lifecycle_day WHERE ${s.sql} AND day >= ? AND day <= ? GROUP BY day, from_state, to_state`, [...s.params, from, to]),
  ])
  const counts = Object.fromEntries(LIFECYCLE_STATES.map((st) => [st, 0])) as Record<LifecycleState, number>
  const apply = (r: Record<string, unknown>): void => {
    const f = state(r.from_state)
    const t = state(r.to_state)
    if (f && f in counts) counts[f] -= num(r.n)
    if (t && t in counts) counts[t] += num(r.n)
  }
  for (const r of before) apply(r)
  const byDay = new Map<string, Array<Record<string, unknown>>>()
  for (const r of inRange) {
    const list = byDay.get(String(r.day)) ?? []
    list.push(r)
    byDay.set(String(r.day), list)
  }
  const out: MixPoint[] = []
  for (let i = 0, n = daysBetween(from, to); i < n; i++) {
    const day = addDays(from, i)
    for (const r of byDay.get(day) ?? []) apply(r)
    out.push({ day, ...counts })
  }
  return out
}
