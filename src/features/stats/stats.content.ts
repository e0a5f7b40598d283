import type { FeatureTables } from '../../adapters/db/feature-store'
import { addDays } from '../../kernel/time'
import { round, scoped, type Scope } from './stats.queries'
import { daysBetween, weekdayOf } from './stats.time'

/** Terms kept per group and past day by the daily prune (today's rows are complete until then). */
export const TERMS_KEPT_PER_DAY = 200
/** Past days the prune looks at (a job missed for longer leaves older days unpruned). */
const PRUNE_LOOKBACK_DAYS = 7
/** Current terms considered for "rising" (the most frequent ones). */
const RISING_CANDIDATES = 500
const DELETE_CHUNK = 200

const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v))

/**
 * Keeps the TERMS_KEPT_PER_DAY most frequent terms of each group and day before `before` (ties broken by
 * the term), deleting the rest; idempotent.
 */
export async function pruneTerms(db: FeatureTables, before: string): Promise<{ groupDays: number; deleted: number }> {
  // Group-days with messages come from the group-day rollup's day index; each is counted on the primary key.
  const days = await db.query('SELECT group_id, day FROM qy_stats_group_day WHERE day >= ? AND day < ? AND text_count > 0', [addDays(before, -PRUNE_LOOKBACK_DAYS), before])
  let deleted = 0
  let heavy = 0
  for (const h of days) {
    const groupId = String(h.group_id)
    const day = String(h.day)
    const count = await db.query<{ n: unknown }>('SELECT COUNT(*) AS n FROM qy_stats_term_day WHERE group_id = ? AND day = ?', [groupId, day])
    if (num(count[0]?.n) <= TERMS_KEPT_PER_DAY) continue
    heavy++
    const extra = await db.query<{ term: string }>('SELECT term FROM qy_stats_term_day WHERE group_id = ? AND day = ? ORDER BY n DESC, term ASC LIMIT 1000000 OFFSET ?', [groupId, day, TERMS_KEPT_PER_DAY])
    for (let i = 0; i < extra.length; i += DELETE_CHUNK) {
      const part = extra.slice(i, i + DELETE_CHUNK).map((r) => String(r.term))
      await db.query(`DELETE FROM qy_stats_term_day WHERE group_id = ? AND day = ? AND term IN (${part.map(() => '?').join(',')})`, [groupId, day, ...part])
      deleted += part.length
    }
  }
  return { groupDays: heavy, deleted }
}

/** A term with its count (messages containing it) in the period and in the period before. */
export interface TermCount { term: string; count: number; previous: number }
/** A rising term: `growth` = (count − previous) ÷ max(previous, 1). */
export interface RisingTerm extends TermCount { growth: number }

/** Every group: those with text in the range (from the group-day rollup's day index), so term reads use the primary key. */
async function named(db: FeatureTables, scope: Scope, from: string, to: string): Promise<Scope> {
  if (!scope.all) return scope
  const rows = await db.query('SELECT DISTINCT group_id FROM qy_stats_group_day WHERE day >= ? AND day <= ? AND text_count > 0', [from, to])
  return { all: false, groupIds: rows.map((r) => String(r.group_id)) }
}

async function termCounts(db: FeatureTables, scope: Scope, from: string, to: string, limit: number): Promise<Array<{ term: string; n: number }>> {
  const s = scoped(await named(db, scope, from, to))
  const rows = await db.query(`SELECT term, SUM(n) AS n FROM qy_stats_term_day WHERE ${s.sql} AND day >= ? AND day <= ? GROUP BY term ORDER BY n DESC, term ASC LIMIT ?`, [...s.params, from, to, limit])
  return rows.map((r) => ({ term: String(r.term), n: num(r.n) }))
}

async function countsOf(db: FeatureTables, scope: Scope, from: string, to: string, terms: string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>()
  const s = scoped(await named(db, scope, from, to))
  for (let i = 0; i < terms.length; i += DELETE_CHUNK) {
    const part = terms.slice(i, i + DELETE_CHUNK)
    const rows = await db.query(`SELECT term, SUM(n) AS n FROM qy_stats_term_day WHERE ${s.sql} AND day >= ? AND day <= ? AND term IN (${part.map(() => '?').join(',')}) GROUP BY term`, [...s.params, from, to, ...part])
    for (const r of rows) out.set(String(r.term), num(r.n))
  }
  return out
}

/**
 * Hot topics over [from, to]: the `limit` most frequent terms, and the rising ones — among the
 * RISING_CANDIDATES most frequent terms with at least `minCount` messages in the period, those that grew
 * against the period of the same length just before, by growth (then count, then term).
 */
export async function topics(db: FeatureTables, scope: Scope, from: string, to: string, limit: number, minCount: number): Promise<{ previous: { from: string; to: string }; top: TermCount[]; rising: RisingTerm[] }> {
  const prevTo = addDays(from, -1)
  const prevFrom = addDays(prevTo, -(daysBetween(from, to) - 1))
  const current = await termCounts(db, scope, from, to, Math.max(limit, RISING_CANDIDATES))
  const before = await countsOf(db, scope, prevFrom, prevTo, current.map((c) => c.term))
  const withPrev = current.map((c) => ({ term: c.term, count: c.n, previous: before.get(c.term) ?? 0 }))
  const rising = withPrev.filter((t) => t.count >= minCount && t.count > t.previous)
    .map((t) => ({ ...t, growth: round((t.count - t.previous) / Math.max(t.previous, 1)) }))
    .sort((a, b) => b.growth - a.growth || b.count - a.count || (a.term < b.term ? -1 : 1))
    .slice(0, limit)
  return { previous: { from: prevFrom, to: prevTo }, top: withPrev.slice(0, limit), rising }
}

/** Question resolution of one day (or a whole range). */
export interface QuestionFigures {
  questions: number
  resolved: number
  /** Of `resolved`: answered by an auto-reply rule. */
  byAutoReply: number
  /** resolved ÷ questions (null without questions). */
  resolutionRate: number | null
  /** Median whole minutes from question to answer over resolved questions (null without any). */
  medianMinutesToAnswer: number | null
}

function median(histogram: Map<number, number>): number | null {
  const total = [...histogram.values()].reduce((a, b) => a + b, 0)
  if (total === 0) return null
  let seen = 0
  for (const minute of [...histogram.keys()].sort((a, b) => a - b)) {
    seen += histogram.get(minute) ?? 0
    if (seen * 2 >= total) return minute
  }
  return null
}

function figures(q: number, r: number, a: number, h: Map<number, number>): QuestionFigures {
  return { questions: q, resolved: r, byAutoReply: a, resolutionRate: q > 0 ? round(r / q) : null, medianMinutesToAnswer: median(h) }
}

/** Question resolution over [from, to]: totals and one point per day (days without questions are zeros). */
export async function questionStats(db: FeatureTables, scope: Scope, from: string, to: string): Promise<{ total: QuestionFigures; days: Array<{ day: string } & QuestionFigures> }> {
  const s = scoped(scope)
  const [counts, minutes] = await Promise.all([
    db.query(`SELECT day, SUM(questions) AS q, SUM(resolved) AS r, SUM(by_autoreply) AS a FROM qy_stats_question_hour WHERE ${s.sql} AND day >= ? AND day <= ? GROUP BY day`, [...s.params, from, to]),
    db.query(`SELECT day, minute, SUM(n) AS n FROM qy_stats_answer_minute WHERE ${s.sql} AND day >= ? AND day <= ? GROUP BY day, minute`, [...s.params, from, to]),
  ])
  const byDay = new Map(counts.map((r) => [String(r.day), r]))
  const hist = new Map<string, Map<number, number>>()
  const all = new Map<number, number>()
  for (const r of minutes) {
    const day = String(r.day)
    const h = hist.get(day) ?? new Map<number, number>()
    h.set(num(r.minute), num(r.n))
    hist.set(day, h)
    all.set(num(r.minute), (all.get(num(r.minute)) ?? 0) + num(r.n))
  }
  const days: Array<{ day: string } & QuestionFigures> = []
  let q = 0; let r = 0; let a = 0
  for (let i = 0, n = daysBetween(from, to); i < n; i++) {
    const day = addDays(from, i)
    const c = byDay.get(day)
    q += num(c?.q); r += num(c?.r); a += num(c?.a)
    days.push({ day, ...figures(num(c?.q), num(c?.r), num(c?.a), hist.get(day) ?? new Map()) })
  }
  return { total: figures(q, r, a, all), days }
}

/** A weekday × hour slot of the best-time report. */
export interface PostSlot {
  weekday: number
  hour: number
  /** How many times this slot occurs in the range (days of that weekday). */
  occurrences: number
  messages: number
  /** Distinct speakers summed over the slot's occurrences. */
  speakers: number
  /** speakers ÷ occurrences. */
  avgSpeakers: number
  questions: number
  resolved: number
  /** (resolved + 1) ÷ (questions + 2): the share of questions answered, pulled toward ½ when there are few. */
  responseRate: number
  /** avgSpeakers × responseRate. */
  score: number
}

/**
 * Best time to post over [from, to]. Method: for every weekday × hour slot (the group's local time), the
 * average number of distinct members speaking in that hour when it occurs (the audience a post meets),
 * times the slot's response rate — the share of questions asked in that hour that got an answer, smoothed
 * as (resolved + 1) ÷ (questions + 2) so a slot with one lucky question does not win. The `best` slots
 * are the highest scores (ties: more messages first, then earlier in the week).
 */
export async function bestTime(db: FeatureTables, scope: Scope, from: string, to: string, top: number): Promise<{ slots: PostSlot[]; best: PostSlot[] }> {
  const s = scoped(scope)
  const [hours, questions] = await Promise.all([
    db.query(`SELECT weekday, hour, SUM(messages) AS messages, SUM(speakers) AS speakers FROM qy_stats_group_hour WHERE ${s.sql} AND day >= ? AND day <= ? GROUP BY weekday, hour`, [...s.params, from, to]),
    db.query(`SELECT weekday, hour, SUM(questions) AS q, SUM(resolved) AS r FROM qy_stats_question_hour WHERE ${s.sql} AND day >= ? AND day <= ? GROUP BY weekday, hour`, [...s.params, from, to]),
  ])
  const occurrences = new Array<number>(7).fill(0)
  for (let i = 0, n = daysBetween(from, to); i < n; i++) occurrences[weekdayOf(addDays(from, i))]++
  const slots: PostSlot[] = []
  for (let weekday = 0; weekday < 7; weekday++) {
    for (let hour = 0; hour < 24; hour++) slots.push({ weekday, hour, occurrences: occurrences[weekday] as number, messages: 0, speakers: 0, avgSpeakers: 0, questions: 0, resolved: 0, responseRate: 0.5, score: 0 })
  }
  for (const r of hours) {
    const slot = slots[num(r.weekday) * 24 + num(r.hour)]
    if (slot) { slot.messages = num(r.messages); slot.speakers = num(r.speakers) }
  }
  for (const r of questions) {
    const slot = slots[num(r.weekday) * 24 + num(r.hour)]
    if (slot) { slot.questions = num(r.q); slot.resolved = num(r.r) }
  }
  for (const slot of slots) {
    slot.avgSpeakers = slot.occurrences > 0 ? round(slot.speakers / slot.occurrences) : 0
    slot.responseRate = round((slot.resolved + 1) / (slot.questions + 2))
    slot.score = round(slot.avgSpeakers * slot.responseRate)
  }
  const best = slots.filter((x) => x.score > 0).sort((a, b) => b.score - a.score || b.messages - a.messages || a.weekday - b.weekday || a.hour - b.hour).slice(0, top)
  return { slots, best }
}
