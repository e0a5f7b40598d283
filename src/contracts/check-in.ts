import { defineEvent } from '../kernel/events'
import { serviceKey } from '../kernel/feature'

/** A member checked in (or made up a missed day). */
export const CheckInCompleted = defineEvent<{
  botId: string
  groupId: string
  memberId: string
  /** The check-in day, YYYY-MM-DD in the group's timezone. */
  day: string
  kind: 'normal' | 'makeup'
  /** Rank of the day (normal check-ins). */
  rank: number | null
  streak: number
  /** Points credited (negative: what a make-up cost). */
  points: number
}>()('checkin.completed')

/** Outcome of a points spend. */
export type SpendResult = { status: 'spent'; balance: number } | { status: 'insufficient'; balance: number } | { status: 'duplicate'; balance: number }

/**
 * The points ledger of check-ins, for other features (a lottery entry paid in points). Every change is a
 * ledger row keyed by (source, ref), so a spend or refund happens exactly once whatever is retried.
 */
export interface PointsService {
  /** A member's points in a group. */
  balance(groupId: string, memberId: string): Promise<number>
  /** Takes `amount` points if the balance allows; once per (source, ref). */
  spend(input: { groupId: string; memberId: string; amount: number; source: string; ref: string; at: number }): Promise<SpendResult>
  /** Gives back what the spend (source, ref) took; once; false when there was nothing to refund. */
  refund(input: { groupId: string; memberId: string; source: string; ref: string; at: number }): Promise<boolean>
}

/** The points service (provided by the check-in feature). */
export const POINTS = serviceKey<PointsService>('points')

/** Check-in facts other features ask about (lottery eligibility, tags). */
export interface CheckInFacts {
  /** Members of a group who checked in on any of `days` (YYYY-MM-DD, the group's check-in days). */
  membersOn(groupId: string, days: readonly string[]): Promise<string[]>
  /** Current streaks of members (0 when broken), as of `today`. */
  streaks(groupId: string, memberIds: readonly string[], today: string): Promise<Map<string, number>>
}

/** The check-in facts service (provided by the check-in feature). */
export const CHECK_INS = serviceKey<CheckInFacts>('check-ins')
