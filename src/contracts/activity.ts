import { serviceKey } from '../kernel/feature'

/** One member's messages on one day (YYYY-MM-DD in the group's timezone). */
export interface MemberDay {
  groupId: string
  memberId: string
  day: string
  messages: number
}

/** One message of the retained message log (text null when the group keeps no text, or for non-text messages). */
export interface LoggedMessage {
  id: string
  groupId: string
  senderId: string
  type: string
  text: string | null
  at: number
  /** The feature that consumed the message (check-in, lottery, moderation, auto-reply), null when none did. */
  handledBy: string | null
  /** Whether an auto-reply rule answered it (not merely matched under a cooldown). */
  autoReplyAnswered: boolean
}

/**
 * Activity facts from the daily rollups (never the message log) for other features: lottery eligibility
 * ("active in the last N days"), lifecycle tags and scores, reports. Figures are as of the last flush
 * (at most `activity.flushIntervalMs` behind).
 */
export interface ActivityFacts {
  /** Per member and day message counts of a group in [from, to], optionally only for some members. */
  memberDays(groupId: string, from: string, to: string, memberIds?: readonly string[]): Promise<MemberDay[]>
  /** The last day on or after `sinceDay` each of `memberIds` spoke in the group (absent: not since then). */
  lastActive(groupId: string, memberIds: readonly string[], sinceDay: string): Promise<Map<string, string>>
  /** Every member row of one day across all groups, in (group, member) order after `after`, at most `limit`. */
  dayRows(day: string, after: { groupId: string; memberId: string } | null, limit: number): Promise<MemberDay[]>
  /**
   * One page of a group's retained message log in [fromMs, toMs), in (at, id) order after `after`: for
   * offline recomputation (the stats rebuild), never for reports.
   */
  logPage(groupId: string, fromMs: number, toMs: number, after: { at: number; id: string } | null, limit: number): Promise<LoggedMessage[]>
}

/** The activity facts service (provided by the activity feature). */
export const ACTIVITY = serviceKey<ActivityFacts>('activity')
