import type { FeatureTables } from '../../adapters/db/feature-store'

/**
 * Running totals per member (`qy_stats_member_running`): for every member-day row, the member's messages,
 * active days (member-day rows) and check-ins in that group summed over that day and every earlier one. A
 * member's totals over any range [from, to] are two rows — the last on or before `to` minus the last before
 * `from` — so top members over 90 days read two rows per member instead of up to 90.
 *
 * Derived, never added to: every transaction that changes member-day rows recomputes the running rows of
 * the touched members from the earliest day it touched (the last running row before that day plus a
 * window sum over the member-day rows from it on), inside the same transaction; a rebuild recomputes the
 * group's rows. Re-processing a message or an event leaves them as the member-day rows say.
 *
 * Retention: purged with the member-day rows (same class and day column), always a whole prefix of a
 * member's days, so the rows left still subtract correctly; erased with the member.
 */

const PAIRS_PER_STATEMENT = 100

/** Recomputes the running rows of the (group, member) pairs of `keys` (group, day, member) from each pair's earliest touched day. */
export async function refreshMemberRunning(tx: FeatureTables, keys: Iterable<readonly [string, string, string]>): Promise<void> {
  const earliest = new Map<string, [string, string, string]>()
  for (const [groupId, day, memberId] of keys) {
    const k = `${groupId}\u0000${memberId}`
    const seen = earliest.get(k)
    if (seen === undefined || day < seen[2]) earliest.set(k, [groupId, memberId, day])
  }
  // Key order: two MySQL writers lock pairs in the same order.
  const pairs = [...earliest.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, p]) => p)
  for (let i = 0; i < pairs.length; i += PAIRS_PER_STATEMENT) {
    const part = pairs.slice(i, i + PAIRS_PER_STATEMENT)
    const list = part.map(() => 'SELECT ? AS g, ? AS m, ? AS f').join(' UNION ALL ')
    // The base (last running row before the pair's first touched day) is read before that day's rows go.
    await tx.query(`DELETE FROM qy_stats_member_running WHERE ${part.map(() => '(group_id = ? AND member_id = ? AND day >= ?)').join(' OR ')}`, part.flat())
    await tx.query(
      `INSERT INTO qy_stats_member_running (group_id, member_id, day, messages, active_days, checkins)
       SELECT d.group_id, d.member_id, d.day,
         COALESCE(b.messages, 0) + SUM(d.messages) OVER w, COALESCE(b.active_days, 0) + COUNT(*) OVER w, COALESCE(b.checkins, 0) + SUM(d.checkins) OVER w
       FROM (${list}) p
       JOIN qy_stats_member_day d ON d.group_id = p.g AND d.member_id = p.m AND d.day >= p.f
       LEFT JOIN qy_stats_member_running b ON b.group_id = p.g AND b.member_id = p.m
         AND b.day = (SELECT MAX(x.day) FROM qy_stats_member_running x WHERE x.group_id = p.g AND x.member_id = p.m AND x.day < p.f)
       WINDOW w AS (PARTITION BY d.group_id, d.member_id ORDER BY d.day ROWS UNBOUNDED PRECEDING)`,
      part.flat())
  }
}

/** Recomputes the running rows of one group (or of every group) from all of its member-day rows (the bench after a bulk load; a rebuild). */
export async function rebuildMemberRunning(tx: FeatureTables, groupId?: string): Promise<void> {
  const where = groupId === undefined ? '' : ' WHERE group_id = ?'
  const params = groupId === undefined ? [] : [groupId]
  await tx.query(`DELETE FROM qy_stats_member_running${where}`, params)
  await tx.query(
    `INSERT INTO qy_stats_member_running (group_id, member_id, day, messages, active_days, checkins)
     SELECT group_id, member_id, day, SUM(messages) OVER w, COUNT(*) OVER w, SUM(checkins) OVER w FROM qy_stats_member_day${where}
     WINDOW w AS (PARTITION BY group_id, member_id ORDER BY day ROWS UNBOUNDED PRECEDING)`,
    params)
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
