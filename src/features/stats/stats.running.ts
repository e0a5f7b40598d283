import type { FeatureTables } from '../../adapters/db/feature-store'
import type { Scope } from './stats.queries'
import { refreshMemberRunning } from './stats.member-running'

/**
 * Running totals per group (`qy_stats_group_running`): for every group-day row, the group's counters summed
 * over that day and every earlier one. A group's totals over any range [from, to] are two rows — the last
 * running row on or before `to` minus the last one before `from` — instead of one group-day row per day of
 * the range. The admin groups table (every group's totals of a range, ranked) reads 2 rows per group.
 *
 * Derived, never added to: every transaction that changes a group's group-day rows recomputes the group's
 * running rows from the earliest day it touched onwards (the last running row before that day plus the
 * group-day rows from it on), inside the same transaction. Re-processing a message or re-running a job
 * leaves the rows as the group-day rows say; a rebuild recomputes from the start of its range.
 *
 * Two statements per 100 touched groups (a DELETE of their rows from the first touched day, an INSERT …
 * SELECT of the new ones). MySQL: INSERT … SELECT reads with shared locks (the latest committed rows), so
 * two replicas writing the same group serialise here instead of summing from stale snapshots.
 */

/** The group-day counters kept as running totals (the columns of `qy_stats_group_day` reports sum). */
export const RUNNING_COLUMNS = ['messages', 'text_count', 'media_count', 'card_count', 'other_count', 'active', 'joins', 'leaves', 'checkins', 'autoreply_hits', 'moderation_hits', 'moderation_actions'] as const

const COLS = RUNNING_COLUMNS.join(', ')
/** Groups per statement. */
const CHUNK = 100

/**
 * Recomputes the running rows of the groups of `keys` (group, day) from each group's earliest touched day.
 * Call after the group-day rows are written.
 */
export async function refreshGroupRunning(tx: FeatureTables, keys: Iterable<readonly [string, string]>): Promise<void> {
  const earliest = new Map<string, string>()
  for (const [groupId, day] of keys) {
    const seen = earliest.get(groupId)
    if (seen === undefined || day < seen) earliest.set(groupId, day)
  }
  // Group order: two MySQL writers lock groups in the same order.
  const pairs = [...earliest.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  for (let i = 0; i < pairs.length; i += CHUNK) {
    const part = pairs.slice(i, i + CHUNK)
    await tx.query(`DELETE FROM qy_stats_group_running WHERE ${part.map(() => '(group_id = ? AND day >= ?)').join(' OR ')}`, part.flat())
    // The base of each group (its last running row before the first touched day) plus a window sum over its
    // group-day rows from that day on. (MySQL: INSERT … SELECT reads the source rows with shared locks, i.e.
    // the latest committed rows.)
    await tx.query(
      `INSERT INTO qy_stats_group_running (group_id, day, ${COLS})
       SELECT d.group_id, d.day, ${RUNNING_COLUMNS.map((c) => `COALESCE(b.${c}, 0) + SUM(d.${c}) OVER w`).join(', ')}
       FROM (${part.map(() => 'SELECT ? AS g, ? AS f').join(' UNION ALL ')}) p
       JOIN qy_stats_group_day d ON d.group_id = p.g AND d.day >= p.f
       LEFT JOIN qy_stats_group_running b ON b.group_id = p.g
         AND b.day = (SELECT MAX(x.day) FROM qy_stats_group_running x WHERE x.group_id = p.g AND x.day < p.f)
       WINDOW w AS (PARTITION BY d.group_id ORDER BY d.day ROWS UNBOUNDED PRECEDING)`,
      part.flat())
  }
}

/**
 * After group-day and member-day rows were written: the running totals of the touched groups (group-day
 * keys: group, day) and members (member-day keys: group, day, member), see stats.member-running.ts.
 */
export async function refreshRunningTotals(tx: FeatureTables, groupDays: ReadonlyArray<readonly unknown[]>, memberDays: ReadonlyArray<readonly unknown[]>): Promise<void> {
  await refreshGroupRunning(tx, groupDays.map((r) => [r[0] as string, r[1] as string] as const))
  await refreshMemberRunning(tx, memberDays.map((r) => [r[0] as string, r[1] as string, r[2] as string] as const))
}

/**
 * Recomputes the running rows of one group (or of every group) from all of its group-day rows: one
 * INSERT … SELECT with window sums (the bench after a bulk load; the rebuild command).
 */
export async function rebuildGroupRunning(tx: FeatureTables, groupId?: string): Promise<void> {
  const where = groupId === undefined ? '' : ' WHERE group_id = ?'
  const params = groupId === undefined ? [] : [groupId]
  await tx.query(`DELETE FROM qy_stats_group_running${where}`, params)
  await tx.query(
    `INSERT INTO qy_stats_group_running (group_id, day, ${COLS}) SELECT group_id, day, ${RUNNING_COLUMNS.map((c) => `SUM(${c}) OVER (PARTITION BY group_id ORDER BY day ROWS UNBOUNDED PRECEDING)`).join(', ')} FROM qy_stats_group_day${where}`,
    params)
}

/**
 * SQLite: the CTE of the (group or member, last day on or before `to`, last day before `from`) keys is
 * computed once (left inline, the planner scanned every running row and evaluated the seeks per row: 106 ms
 * against 8 ms of CPU for 1,000 groups); CROSS JOIN keeps the keys as the outer loop (SQLite honours it; for
 * MySQL it is an inner join).
 */
export const materialized = (db: FeatureTables): string => (db.dialect === 'sqlite' ? 'MATERIALIZED ' : '')

/** Per-group totals of a range as the groups table reports them. */
export interface GroupRangeTotals {
  groupId: string
  messages: number; text: number; media: number; card: number; other: number; activeDays: number
  joins: number; leaves: number; checkins: number; autoReplyHits: number; moderationHits: number; moderationActions: number
}

const NAMES: Record<typeof RUNNING_COLUMNS[number], keyof GroupRangeTotals> = {
  messages: 'messages', text_count: 'text', media_count: 'media', card_count: 'card', other_count: 'other', active: 'activeDays',
  joins: 'joins', leaves: 'leaves', checkins: 'checkins', autoreply_hits: 'autoReplyHits', moderation_hits: 'moderationHits', moderation_actions: 'moderationActions',
}

/**
 * Every group of the scope with group-day rows in [from, to], its totals over the range, most messages first
 * (ties by group id), at most `limit`: per group, the last running row on or before `to` minus the last one
 * before `from` (two index seeks and two row reads). The groups are walked on the primary key: SQLite by a
 * recursive CTE (one seek per group), MySQL by a loose index scan.
 */
export async function groupRangeTotals(db: FeatureTables, scope: Scope, from: string, to: string, limit: number): Promise<GroupRangeTotals[]> {
  const groupParams = scope.all ? [] : [...new Set(scope.groupIds)]
  if (!scope.all && groupParams.length === 0) return []
  let keys: string
  let keyParams: string[]
  if (db.dialect === 'mysql') {
    // A loose index scan of the primary key (group_id, day): one MAX per group ("Using index for group-by");
    // no recursive CTE (MySQL 8 caps recursion at 1,000 rows by default).
    const w = scope.all ? '' : `group_id IN (${groupParams.map(() => '?').join(',')}) AND `
    keys = `k AS (SELECT t.group_id AS id, t.dt AS dt, f.df AS df FROM
      (SELECT group_id, MAX(day) AS dt FROM qy_stats_group_running WHERE ${w}day <= ? GROUP BY group_id) t
      LEFT JOIN (SELECT group_id, MAX(day) AS df FROM qy_stats_group_running WHERE ${w}day < ? GROUP BY group_id) f ON f.group_id = t.group_id)`
    keyParams = [...groupParams, to, ...groupParams, from]
  } else {
    const groups = scope.all
      ? 'g(id) AS (SELECT (SELECT group_id FROM qy_stats_group_running ORDER BY group_id LIMIT 1) UNION ALL SELECT (SELECT r.group_id FROM qy_stats_group_running r WHERE r.group_id > g.id ORDER BY r.group_id LIMIT 1) FROM g WHERE g.id IS NOT NULL)'
      : `g(id) AS (${groupParams.map(() => 'SELECT ?').join(' UNION ALL ')})`
    keys = `${groups},
    k AS ${materialized(db)}(SELECT g.id AS id,
      (SELECT r.day FROM qy_stats_group_running r WHERE r.group_id = g.id AND r.day <= ? ORDER BY r.day DESC LIMIT 1) AS dt,
      (SELECT r.day FROM qy_stats_group_running r WHERE r.group_id = g.id AND r.day < ? ORDER BY r.day DESC LIMIT 1) AS df
      FROM g WHERE g.id IS NOT NULL)`
    keyParams = [...groupParams, to, from]
  }
  const sql = `WITH RECURSIVE ${keys}
    SELECT k.id AS group_id, ${RUNNING_COLUMNS.map((c) => `t.${c} - COALESCE(f.${c}, 0) AS ${c}`).join(', ')}
    FROM k CROSS JOIN qy_stats_group_running t ON t.group_id = k.id AND t.day = k.dt
    LEFT JOIN qy_stats_group_running f ON f.group_id = k.id AND f.day = k.df
    WHERE k.dt >= ?
    ORDER BY messages DESC, group_id LIMIT ?`
  const rows = await db.query(sql, [...keyParams, from, limit])
  return rows.map((r) => {
    const out = { groupId: String(r.group_id) } as GroupRangeTotals
    for (const c of RUNNING_COLUMNS) (out[NAMES[c]] as number) = Number(r[c] ?? 0)
    return out
  })
}

