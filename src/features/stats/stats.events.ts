import type { FeatureStore } from '../../adapters/db/feature-store'
import type { Row } from '../../adapters/db/sql'
import { AutoReplyMatched } from '../../contracts/auto-reply'
import { CheckInCompleted } from '../../contracts/check-in'
import { LotteryDrawn, LotteryEntered } from '../../contracts/lottery'
import { ModerationReversed, RuleViolated } from '../../contracts/moderation'
import { MemberLifecycleChanged } from '../../contracts/tagging'
import { MemberJoined, MemberLeft, type EventBase } from '../../kernel/events'
import { localTime } from '../../kernel/time'
import { addAllDays, lockDays } from './stats.scope'
import { refreshRunningTotals } from './stats.running'
import { upsertAdd } from './stats.sql'
import { weekOf } from './stats.time'

/** The kinds of events folded into the rollups. */
export const STATS_CONSUMES = [MemberJoined, MemberLeft, CheckInCompleted, AutoReplyMatched, RuleViolated, LotteryEntered, LotteryDrawn, MemberLifecycleChanged, ModerationReversed] as const

/** `from_state` of a lifecycle transition of a member seen for the first time. */
export const FIRST_SEEN = 'none'

/** Moderation steps that act on the member (record/none only log; shadow mode never acts). */
const ENFORCING = new Set(['warn', 'final_warning', 'remove'])

const ID_CHUNK = 500

/** Group-day counter columns events add to, in row order after (group_id, day). */
const GROUP_DAY_EVENT_COLUMNS = ['joins', 'leaves', 'checkins', 'autoreply_hits', 'moderation_hits', 'moderation_actions'] as const
type GroupDayColumn = typeof GROUP_DAY_EVENT_COLUMNS[number]

/**
 * Folds a batch of events into the rollups, exactly once per event id: the ids already applied are read
 * and skipped, the new ones are recorded in the same transaction as their effects. At-least-once delivery
 * (a retried batch, a redelivered event after a restart) therefore never double counts.
 */
export async function applyEvents(store: FeatureStore, events: readonly EventBase[], timezoneOf: (groupId: string, botId: string | undefined) => Promise<string>): Promise<number> {
  const relevant = events.filter((e) => e.groupId !== undefined && STATS_CONSUMES.some((k) => k.is(e)))
  if (relevant.length === 0) return 0
  return store.transaction(async (tx) => {
    const seen = new Set<string>()
    const ids = [...new Set(relevant.map((e) => e.id))]
    for (let i = 0; i < ids.length; i += ID_CHUNK) {
      const part = ids.slice(i, i + ID_CHUNK)
      const rows = await tx.query<{ id: string }>(`SELECT id FROM qy_stats_event WHERE id IN (${part.map(() => '?').join(',')})`, part)
      for (const r of rows) seen.add(r.id)
    }
    const fresh: EventBase[] = []
    for (const e of relevant) {
      if (seen.has(e.id)) continue
      seen.add(e.id)
      fresh.push(e)
    }
    if (fresh.length === 0) return 0
    await tx.insertIgnore('qy_stats_event', ['id', 'at'], fresh.map((e) => [e.id, e.at]))

    const groupDay = new Map<string, Row>()
    const addGroupDay = (groupId: string, day: string, column: GroupDayColumn, n: number): void => {
      const key = `${groupId}\u0000${day}`
      let row = groupDay.get(key)
      if (!row) groupDay.set(key, (row = [groupId, day, 0, 0, 0, 0, 0, 0]))
      ;(row[2 + GROUP_DAY_EVENT_COLUMNS.indexOf(column)] as number) += n
    }
    const memberDay = new Map<string, Row>()
    const addCheckIn = (groupId: string, day: string, memberId: string): void => {
      const key = `${groupId}\u0000${day}\u0000${memberId}`
      const row = memberDay.get(key)
      if (row) (row[4] as number)++
      else memberDay.set(key, [groupId, day, memberId, weekOf(day), 1])
    }
    const inviterDay = new Map<string, Row>()
    const addInvites = (groupId: string, day: string, memberId: string, n: number): void => {
      const key = `${groupId}\u0000${day}\u0000${memberId}`
      const row = inviterDay.get(key)
      if (row) (row[3] as number) += n
      else inviterDay.set(key, [groupId, day, memberId, n])
    }
    const streaks: Array<[string, string, string, number]> = []
    const ruleDay = new Map<string, Row>()
    const addRule = (groupId: string, day: string, kind: string, rule: string, action: boolean, reversal = false): void => {
      const key = `${groupId}\u0000${day}\u0000${kind}\u0000${rule}`
      const hit = reversal ? 0 : 1
      const acted = !reversal && action ? 1 : 0
      const reversed = reversal ? 1 : 0
      const row = ruleDay.get(key)
      if (row) { (row[4] as number) += hit; (row[5] as number) += acted; (row[6] as number) += reversed } else ruleDay.set(key, [groupId, day, kind, rule.slice(0, 64), hit, acted, reversed])
    }
    const lotteryDay = new Map<string, Row>()
    const draws: Row[] = []
    const lifecycleDay = new Map<string, Row>()
    // Joins and leaves in event order (a leave then a rejoin in one batch ends joined).
    const memberOps: Array<{ op: 'join' | 'leave'; groupId: string; memberId: string; day: string }> = []

    for (const e of fresh) {
      const groupId = e.groupId as string
      const day = localTime(e.at, await timezoneOf(groupId, e.botId)).day
      if (MemberJoined.is(e)) {
        const members = e.members.filter((m) => m.role !== 'bot')
        if (members.length === 0) continue
        addGroupDay(groupId, day, 'joins', members.length)
        if (e.inviterId) addInvites(groupId, day, e.inviterId, members.length)
        for (const m of members) memberOps.push({ op: 'join', groupId, memberId: m.id, day })
      } else if (MemberLeft.is(e)) {
        addGroupDay(groupId, day, 'leaves', e.memberIds.length)
        for (const memberId of e.memberIds) memberOps.push({ op: 'leave', groupId, memberId, day })
      } else if (CheckInCompleted.is(e)) {
        // The check-in's own day (the feature's, in the group's timezone), not the event's arrival.
        addGroupDay(groupId, e.day, 'checkins', 1)
        addCheckIn(groupId, e.day, e.memberId)
        streaks.push([groupId, e.day, e.memberId, e.streak])
      } else if (AutoReplyMatched.is(e)) {
        addGroupDay(groupId, day, 'autoreply_hits', 1)
        addRule(groupId, day, 'autoreply', String(e.ruleId), e.status === 'answered')
      } else if (RuleViolated.is(e)) {
        const acted = !e.shadow && ENFORCING.has(e.action)
        addGroupDay(groupId, day, 'moderation_hits', 1)
        if (acted) addGroupDay(groupId, day, 'moderation_actions', 1)
        for (const detector of e.detectors.length > 0 ? e.detectors : ['unknown']) addRule(groupId, day, 'moderation', detector, acted)
      } else if (ModerationReversed.is(e)) {
        // On the violation's own day, next to its hit.
        const violationDay = localTime(e.violationAt, await timezoneOf(groupId, e.botId)).day
        addRule(groupId, violationDay, 'moderation', e.detector, false, true)
      } else if (LotteryEntered.is(e)) {
        const key = `${groupId}\u0000${day}\u0000${e.memberId}`
        const row = lotteryDay.get(key)
        if (row) (row[3] as number)++
        else lotteryDay.set(key, [groupId, day, e.memberId, 1])
      } else if (LotteryDrawn.is(e)) {
        // The draw itself; rerolls (round ≥ 1) redraw a prize of a lottery already drawn.
        if (e.round === 0) draws.push([groupId, e.lotteryId, day])
      } else if (MemberLifecycleChanged.is(e)) {
        const from = e.from ?? FIRST_SEEN
        const key = `${groupId}\u0000${day}\u0000${from}\u0000${e.to}`
        const row = lifecycleDay.get(key)
        if (row) (row[4] as number)++
        else lifecycleDay.set(key, [groupId, day, from, e.to, 1])
      }
    }

    const days = [...groupDay.values()].map((r) => r[1] as string)
    await lockDays(tx, days)
    await tx.upsertIncrement('qy_stats_group_day', ['group_id', 'day'], [...GROUP_DAY_EVENT_COLUMNS], [...groupDay.values()])
    await addAllDays(tx, GROUP_DAY_EVENT_COLUMNS, [...groupDay.values()])
    await upsertAdd(tx, 'qy_stats_member_day', ['group_id', 'day', 'member_id'], ['week'], ['checkins'], [...memberDay.values()])
    await tx.upsertIncrement('qy_stats_inviter_day', ['group_id', 'day', 'member_id'], ['invites'], [...inviterDay.values()])
    for (const [groupId, day, memberId, streak] of streaks) {
      await tx.query('UPDATE qy_stats_member_day SET streak = ? WHERE group_id = ? AND day = ? AND member_id = ? AND streak < ?', [streak, groupId, day, memberId, streak])
    }
    await upsertAdd(tx, 'qy_stats_lottery_day', ['group_id', 'day', 'member_id'], [], ['entries'], [...lotteryDay.values()])
    await tx.insertIgnore('qy_stats_lottery_draw', ['group_id', 'lottery_id', 'day'], draws)
    await tx.upsertIncrement('qy_stats_lifecycle_day', ['group_id', 'day', 'from_state', 'to_state'], ['n'], [...lifecycleDay.values()])
    await tx.upsertIncrement('qy_stats_rule_day', ['group_id', 'day', 'kind', 'rule'], ['hits', 'actions', 'reversals'], [...ruleDay.values()])
    // A member's cohort is their latest join; a rejoin starts a new one (and clears the leave).
    for (const o of memberOps) {
      if (o.op === 'leave') {
        await tx.query('UPDATE qy_stats_member SET left_day = ? WHERE group_id = ? AND member_id = ?', [o.day, o.groupId, o.memberId])
        continue
      }
      await tx.query('DELETE FROM qy_stats_member WHERE group_id = ? AND member_id = ?', [o.groupId, o.memberId])
      await tx.insertIgnore('qy_stats_member', ['group_id', 'member_id', 'joined_day', 'joined_week', 'left_day'], [[o.groupId, o.memberId, o.day, weekOf(o.day), null]])
    }
    // Running totals of the touched groups and members (stats.running.ts), from the rows written above.
    await refreshRunningTotals(tx, [...groupDay.values()], [...memberDay.values()])
    return fresh.length
  })
}
