import type { FeatureTables } from '../../adapters/db/feature-store'
import type { RunningTable } from './stats.running-core'

/**
 * Running totals per member (`qy_stats_member_running`): for every member-day row, the member's messages,
 * active days (member-day rows) and check-ins in that group summed over that day and every earlier one. A
 * member's totals over any range [from, to] are two rows — the last on or before `to` minus the last before
 * `from` — so top members over 90 days read two rows per member instead of up to 90.
 *
 * Derived, never added to (the shared mechanism of stats.running-core.ts): re-processing a message or an
 * event leaves them as the member-day rows say; a rebuild recomputes the group's rows.
 *
 * Retention: purged with the member-day rows (same class and day column), always a whole prefix of a
 * member's days, so the rows left still subtract correctly; erased with the member.
 */

/** `qy_stats_member_running` over `qy_stats_member_day` (active days: the count of member-day rows). */
export const MEMBER_RUNNING: RunningTable = {
  table: 'qy_stats_member_running', source: 'qy_stats_member_day', keys: ['group_id', 'member_id'],
  columns: [{ name: 'messages', sum: 'SUM(messages)' }, { name: 'active_days', sum: 'COUNT(*)' }, { name: 'checkins', sum: 'SUM(checkins)' }],
}

/** One member's totals over a range. */
export interface MemberRangeTotals { memberId: string; messages: number; activeDays: number; checkins: number }

/**
 * Every member of one group with member-day rows in [from, to] and their messages, active days and check-ins
 * over the range: per member, the last running row on or before `to` minus the last one before `from`.
 * Members are walked on the primary key (group, member, day): MySQL/MariaDB by a loose index scan
 * (`MAX(day) … GROUP BY member_id`), SQLite by a recursive CTE (one seek per member).
 */
export async function memberRangeTotals(db: FeatureTables, groupId: string, from: string, to: string): Promise<MemberRangeTotals[]> {
  const keys = db.dialect === 'mysql'
    ? `k AS (SELECT t.member_id AS id, t.dt AS dt, f.df AS df FROM
        (SELECT member_id, MAX(day) AS dt FROM qy_stats_member_running WHERE group_id = ? AND day <= ? GROUP BY member_id) t
        LEFT JOIN (SELECT member_id, MAX(day) AS df FROM qy_stats_member_running WHERE group_id = ? AND day < ? GROUP BY member_id) f ON f.member_id = t.member_id)`
    : `m(id) AS (SELECT (SELECT member_id FROM qy_stats_member_running WHERE group_id = ? ORDER BY member_id LIMIT 1)
        UNION ALL SELECT (SELECT r.member_id FROM qy_stats_member_running r WHERE r.group_id = ? AND r.member_id > m.id ORDER BY r.member_id LIMIT 1) FROM m WHERE m.id IS NOT NULL),
      k AS MATERIALIZED (SELECT m.id AS id,
        (SELECT r.day FROM qy_stats_member_running r WHERE r.group_id = ? AND r.member_id = m.id AND r.day <= ? ORDER BY r.day DESC LIMIT 1) AS dt,
        (SELECT r.day FROM qy_stats_member_running r WHERE r.group_id = ? AND r.member_id = m.id AND r.day < ? ORDER BY r.day DESC LIMIT 1) AS df
        FROM m WHERE m.id IS NOT NULL)`
  const keyParams = db.dialect === 'mysql' ? [groupId, to, groupId, from] : [groupId, groupId, groupId, to, groupId, from]
  const rows = await db.query(
    `WITH RECURSIVE ${keys}
     SELECT k.id AS member_id, t.messages - COALESCE(f.messages, 0) AS messages, t.active_days - COALESCE(f.active_days, 0) AS active_days, t.checkins - COALESCE(f.checkins, 0) AS checkins
     FROM k CROSS JOIN qy_stats_member_running t ON t.group_id = ? AND t.member_id = k.id AND t.day = k.dt
     LEFT JOIN qy_stats_member_running f ON f.group_id = ? AND f.member_id = k.id AND f.day = k.df
     WHERE k.dt >= ?`,
    [...keyParams, groupId, groupId, from])
  return rows.map((r) => ({ memberId: String(r.member_id), messages: Number(r.messages ?? 0), activeDays: Number(r.active_days ?? 0), checkins: Number(r.checkins ?? 0) }))
}
