import type { FeatureTables } from '../../adapters/db/feature-store'
import type { Scope } from './stats.queries'
import { MEMBER_RUNNING } from './stats.member-running'
import { refreshRunning, type RunningTable } from './stats.running-core'

/**
 * Running totals per group (`qy_stats_group_running`): for every group-day row, the group's counters summed
 * over that day and every earlier one. A group's totals over any range [from, to] are two rows — the last
 * running row on or before `to` minus the last one before `from` — instead of one group-day row per day of
 * the range. The admin groups table (every group's totals of a range, ranked) reads 2 rows per group.
 * Kept by the shared running-table mechanism (stats.running-core.ts): derived in the transaction that writes
 * the group-day rows, never added to.
 */

/** The group-day counters kept as running totals (the columns of `qy_stats_group_day` reports sum). */
export const RUNNING_COLUMNS = ['messages', 'text_count', 'media_count', 'card_count', 'other_count', 'active', 'joins', 'leaves', 'checkins', 'autoreply_hits', 'moderation_hits', 'moderation_actions'] as const

/** `qy_stats_group_running` over `qy_stats_group_day`. */
export const GROUP_RUNNING: RunningTable = {
  table: 'qy_stats_group_running', source: 'qy_stats_group_day', keys: ['group_id'],
  columns: RUNNING_COLUMNS.map((c) => ({ name: c, sum: `SUM(${c})` })),
}

/**
 * After group-day and member-day rows were written: the running totals of the touched groups (group-day
 * keys: group, day) and members (member-day keys: group, day, member), from each one's earliest touched day.
 */
export async function refreshRunningTotals(tx: FeatureTables, groupDays: ReadonlyArray<readonly unknown[]>, memberDays: ReadonlyArray<readonly unknown[]>): Promise<void> {
  await refreshRunning(tx, GROUP_RUNNING, groupDays.map((r) => [r[0] as string, r[1] as string]))
  await refreshRunning(tx, MEMBER_RUNNING, memberDays.map((r) => [r[0] as string, r[2] as string, r[1] as string]))
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

