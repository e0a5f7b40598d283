import type { LifecycleState } from '../../contracts/tagging'
import type { Segment, TagRule, TaggingRule } from './tagging.rules'

const DAY_MS = 86_400_000

/**
 * A group's score scale. Scores are kept in growth form: S = Σ points · 2^((t − epoch) / halfLife), so a
 * contribution is a plain addition (order-free, no read-modify-write) and the current, decayed score is
 * S · 2^(−(now − epoch) / halfLife). Ordering members by S is ordering them by their current score.
 */
export interface ScoreScale {
  epoch: number
  halfLifeDays: number
}

/** Exponent above which the daily job moves a group's epoch forward (keeps S far from overflow). */
export const REBASE_EXPONENT = 200

/** The stored amount that adds `points` at instant `at`. */
export function growth(points: number, at: number, scale: ScoreScale): number {
  return points * Math.pow(2, (at - scale.epoch) / (scale.halfLifeDays * DAY_MS))
}

/** The current score of a stored amount at `now`. */
export function current(stored: number, now: number, scale: ScoreScale): number {
  return stored * Math.pow(2, -(now - scale.epoch) / (scale.halfLifeDays * DAY_MS))
}

/** The stored amount whose current score at `now` is `score` (for range queries). */
export function storedFor(score: number, now: number, scale: ScoreScale): number {
  return growth(score, now, scale)
}

/** What stored amounts are multiplied by to move from one scale to another, keeping current scores at `now`. */
export function rescaleFactor(from: ScoreScale, to: ScoreScale, now: number): number {
  return Math.pow(2, (now - to.epoch) / (to.halfLifeDays * DAY_MS) - (now - from.epoch) / (from.halfLifeDays * DAY_MS))
}

/** Rounds a current score for display. */
export function displayScore(score: number): number {
  return Math.round(score * 100) / 100
}

/** Whole days from `from` to `to` (YYYY-MM-DD). */
export function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS)
}

/** A deterministic instant for a day's activity (its score contribution is dated there). */
export function dayInstant(day: string): number {
  return Date.parse(`${day}T12:00:00Z`)
}

/** RFM segment: recency (days since they last spoke) × engagement (current score). */
export function segmentOf(daysSilent: number, score: number, rfm: TaggingRule['rfm']): Segment {
  const recent = daysSilent <= rfm.recentDays
  const engaged = score >= rfm.engagedScore
  if (recent) return engaged ? 'high_value' : 'potential'
  return engaged ? 'needs_wakeup' : 'at_risk'
}

/** What the tag conditions look at for one member. */
export interface MemberFacts {
  state: LifecycleState
  score: number
  segment: Segment
  inviterId: string | null
  /** Current check-in streak (0 when none or unknown). */
  streak: number
  /** Last day they said a keyword of each keyword tag rule (by rule id). */
  keywordDays: ReadonlyMap<string, string>
}

/** Whether a tag rule's conditions hold for a member today. */
export function matches(rule: TagRule, facts: MemberFacts, today: string): boolean {
  const c = rule.when
  if (c.lifecycle && !c.lifecycle.includes(facts.state)) return false
  if (c.scoreMin !== undefined && facts.score < c.scoreMin) return false
  if (c.scoreMax !== undefined && facts.score > c.scoreMax) return false
  if (c.segment && !c.segment.includes(facts.segment)) return false
  if (c.inviters && (facts.inviterId === null || !c.inviters.includes(facts.inviterId))) return false
  if (c.streakMin !== undefined && facts.streak < c.streakMin) return false
  if (c.keyword) {
    const day = facts.keywordDays.get(rule.id)
    if (!day || daysBetween(day, today) >= c.keyword.days) return false
  }
  return true
}

/** Whether local time `hhmm` (HH:MM) lies in the quiet window [start, end) (start > end spans midnight). */
export function inQuietHours(hour: number, minute: number, start: string, end: string): boolean {
  const t = hour * 60 + minute
  const [sh, sm] = start.split(':').map(Number) as [number, number]
  const [eh, em] = end.split(':').map(Number) as [number, number]
  const s = sh * 60 + sm
  const e = eh * 60 + em
  if (s === e) return false
  return s < e ? t >= s && t < e : t >= s || t < e
}
