import type { FeatureTables } from '../../adapters/db/feature-store'
import type { ActivityFacts, MemberDay } from '../../contracts/activity'
import { addDays, localTime } from '../../kernel/time'

/** One day of a group's activity. */
export interface DayActivity { day: string; messages: number; activeMembers: number }

/** Daily message totals and active members of a group for the `days` days ending today (group timezone); missing days are 0. */
export async function dailySeries(db: FeatureTables, groupId: string, timezone: string, now: number, days: number): Promise<{ from: string; to: string; days: DayActivity[] }> {
  const to = localTime(now, timezone).day
  const from = addDays(to, -(days - 1))
  const rows: Array<{ day: string; messages: string | number; members: string | number }> = await db.query(
    'SELECT day, SUM(messages) AS messages, COUNT(*) AS members FROM qy_activity_daily WHERE group_id = ? AND day >= ? AND day <= ? GROUP BY day',
    [groupId, from, to],
  )
  const byDay = new Map(rows.map((r) => [r.day, r]))
  const series: DayActivity[] = []
  for (let i = 0; i < days; i++) {
    const day = addDays(from, i)
    const r = byDay.get(day)
    series.push({ day, messages: Number(r?.messages ?? 0), activeMembers: Number(r?.members ?? 0) })
  }
  return { from, to, days: series }
}

/** Most active members of a group over a day range. */
export async function topMembers(db: FeatureTables, groupId: string, from: string, to: string, limit: number): Promise<Array<{ memberId: string; messages: number; chars: number }>> {
  const rows: Array<{ member_id: string; messages: string | number; chars: string | number }> = await db.query(
    'SELECT member_id, SUM(messages) AS messages, SUM(chars) AS chars FROM qy_activity_daily WHERE group_id = ? AND day >= ? AND day <= ? GROUP BY member_id ORDER BY messages DESC, member_id ASC LIMIT ?',
    [groupId, from, to, limit],
  )
  return rows.map((r) => ({ memberId: r.member_id, messages: Number(r.messages), chars: Number(r.chars) }))
}

/** Messages per hour of day (0–23) of a group over a day range. */
export async function hourlyProfile(db: FeatureTables, groupId: string, from: string, to: string): Promise<number[]> {
  const rows: Array<{ hour: number | string; messages: string | number }> = await db.query(
    'SELECT hour, SUM(messages) AS messages FROM qy_activity_hourly WHERE group_id = ? AND day >= ? AND day <= ? GROUP BY hour',
    [groupId, from, to],
  )
  const hours = new Array<number>(24).fill(0)
  for (const r of rows) hours[Number(r.hour)] = Number(r.messages)
  return hours
}

/** The activity facts other features read (rollups only, never the message log). */
export function activityFacts(db: FeatureTables): ActivityFacts {
  const rows = (r: Array<{ group_id: string; member_id: string; day: string; messages: number | string }>): MemberDay[] =>
    r.map((x) => ({ groupId: x.group_id, memberId: x.member_id, day: x.day, messages: Number(x.messages) }))
  const members = (ids: readonly string[] | undefined): { sql: string; params: string[] } =>
    ids && ids.length > 0 ? { sql: ` AND member_id IN (${ids.map(() => '?').join(',')})`, params: [...ids] } : { sql: '', params: [] }
  return {
    async memberDays(groupId, from, to, memberIds) {
      if (memberIds && memberIds.length === 0) return []
      const m = members(memberIds)
      return rows(await db.query(`SELECT group_id, member_id, day, messages FROM qy_activity_daily WHERE group_id = ? AND day >= ? AND day <= ?${m.sql} ORDER BY member_id, day`, [groupId, from, to, ...m.params]))
    },
    async lastActive(groupId, memberIds, sinceDay) {
      const out = new Map<string, string>()
      for (let i = 0; i < memberIds.length; i += 500) {
        const m = members(memberIds.slice(i, i + 500))
        const found: Array<{ member_id: string; last: string }> = await db.query(
          `SELECT member_id, MAX(day) AS last FROM qy_activity_daily WHERE group_id = ? AND day >= ? AND messages > 0${m.sql} GROUP BY member_id`, [groupId, sinceDay, ...m.params])
        for (const r of found) out.set(r.member_id, r.last)
      }
      return out
    },
    async dayRows(day, after, limit) {
      const cursor = after ? ' AND (group_id > ? OR (group_id = ? AND member_id > ?))' : ''
      const params = after ? [day, after.groupId, after.groupId, after.memberId, limit] : [day, limit]
      return rows(await db.query(`SELECT group_id, member_id, day, messages FROM qy_activity_daily WHERE day = ?${cursor} ORDER BY group_id, member_id LIMIT ?`, params))
    },
    async logPage(groupId, fromMs, toMs, after, limit) {
      const cursor = after ? ' AND (at > ? OR (at = ? AND id > ?))' : ''
      const params = after ? [fromMs, toMs, groupId, after.at, after.at, after.id, limit] : [fromMs, toMs, groupId, limit]
      const found: Array<{ id: string; group_id: string; sender_id: string; type: string; text: string | null; at: number | string; handled_by: string | null; auto_answered: number | string }> = await db.query(
        `SELECT id, group_id, sender_id, type, text, at, handled_by, auto_answered FROM qy_message_log WHERE at >= ? AND at < ? AND group_id = ?${cursor} ORDER BY at, id LIMIT ?`, params)
      return found.map((r) => ({ id: r.id, groupId: r.group_id, senderId: r.sender_id, type: r.type, text: r.text, at: Number(r.at), handledBy: r.handled_by, autoReplyAnswered: Number(r.auto_answered) === 1 }))
    },
  }
}
