import type { FeatureTables } from '../../adapters/db/feature-store'
import { HttpError } from '../../kernel/routes'
import { addDays, localTime } from '../../kernel/time'
import { distinctActive, lotteryTotals, netJoinsAfter, round, totals, type Scope } from './stats.queries'
import { MAX_RANGE_DAYS } from './stats.schema'
import { daysBetween } from './stats.time'

/** A resolved day range. */
export interface Range { from: string; to: string; days: number }

/** The range of a report: defaults (the last 7 days up to today in `timezone`), checked for order and length (400 otherwise). */
export function resolveRange(query: { from?: string; to?: string }, now: number, timezone: string): Range {
  const to = query.to ?? (query.from ? addDays(query.from, 6) : localTime(now, timezone).day)
  const from = query.from ?? addDays(to, -6)
  if (from > to) throw new HttpError(400, 'invalid_input', '`from` is after `to`', [{ path: 'query.from', message: 'must be on or before `to`' }])
  const days = daysBetween(from, to)
  if (days > MAX_RANGE_DAYS) throw new HttpError(400, 'invalid_input', `a report covers at most ${MAX_RANGE_DAYS} days`, [{ path: 'query.from', message: `range of ${days} days` }])
  return { from, to, days }
}

/** The figures of one period. */
export interface PeriodFigures {
  from: string
  to: string
  members: number
  joins: number
  leaves: number
  netGrowth: number
  /** Average distinct speakers per day. */
  dau: number
  /** Distinct speakers in the 7 days ending on `to`. */
  wau: number
  /** Distinct speakers in the 30 days ending on `to`. */
  mau: number
  /** DAU ÷ MAU. */
  stickiness: number | null
  messages: number
  activeMembers: number
  /** Check-ins ÷ (days × members at the end of the period). */
  checkInRate: number | null
  autoReplyHits: number
  moderationHits: number
  moderationActions: number
  /** Lottery entries (one per member and lottery). */
  lotteryEntries: number
  /** Distinct members who entered a lottery. */
  lotteryEntrants: number
  /** Lottery participation: entrants ÷ active members (null without active members; automatic entries may take it above 1). */
  lotteryParticipation: number | null
  /** Lotteries drawn (a lottery run in several groups counts once). */
  lotteriesDrawn: number
  messageTypes: { text: number; media: number; card: number; other: number }
}

/** Keys of figures compared period over period. */
const COMPARED = ['members', 'joins', 'leaves', 'netGrowth', 'dau', 'wau', 'mau', 'stickiness', 'messages', 'activeMembers', 'checkInRate', 'autoReplyHits', 'moderationHits', 'moderationActions',
  'lotteryEntries', 'lotteryEntrants', 'lotteryParticipation', 'lotteriesDrawn'] as const

/** Overview: the period, the one before it (same length), and the relative change of each figure. */
export interface Overview {
  current: PeriodFigures
  previous: PeriodFigures
  /** (current − previous) ÷ previous; null when the previous figure is 0 or absent. */
  change: Record<typeof COMPARED[number], number | null>
}

async function period(db: FeatureTables, scope: Scope, from: string, to: string, membersNow: number): Promise<PeriodFigures> {
  const days = daysBetween(from, to)
  const [t, netAfter, wau, mau, active, lottery] = await Promise.all([
    totals(db, scope, from, to), netJoinsAfter(db, scope, to),
    distinctActive(db, scope, addDays(to, -6), to), distinctActive(db, scope, addDays(to, -29), to), distinctActive(db, scope, from, to),
    lotteryTotals(db, scope, from, to),
  ])
  const members = Math.max(0, membersNow - netAfter)
  const dau = round(t.activeDays / days)
  return {
    from, to, members, joins: t.joins, leaves: t.leaves, netGrowth: t.joins - t.leaves, dau, wau, mau,
    stickiness: mau > 0 ? round(dau / mau) : null, messages: t.messages, activeMembers: active,
    checkInRate: members > 0 ? round(t.checkins / (days * members)) : null,
    autoReplyHits: t.autoReplyHits, moderationHits: t.moderationHits, moderationActions: t.moderationActions,
    lotteryEntries: lottery.entries, lotteryEntrants: lottery.entrants, lotteryParticipation: active > 0 ? round(lottery.entrants / active) : null, lotteriesDrawn: lottery.drawn,
    messageTypes: { text: t.text, media: t.media, card: t.card, other: t.other },
  }
}

/** The overview of a scope over a range; `membersNow` is the scope's member count today (the directory's). */
export async function overview(db: FeatureTables, scope: Scope, range: Range, membersNow: number): Promise<Overview> {
  const prevTo = addDays(range.from, -1)
  const [current, previous] = await Promise.all([
    period(db, scope, range.from, range.to, membersNow),
    period(db, scope, addDays(prevTo, -(range.days - 1)), prevTo, membersNow),
  ])
  const change = {} as Overview['change']
  for (const key of COMPARED) {
    const a = current[key]
    const b = previous[key]
    change[key] = a === null || b === null || b === 0 ? null : round((a - b) / b)
  }
  return { current, previous, change }
}
