import type { FeatureTables } from '../../adapters/db/feature-store'
import type { Row } from '../../adapters/db/sql'
import { addDays } from '../../kernel/time'
import { rebuildGroupReach } from './stats.reach'
import { upsertAdd } from './stats.sql'
import { daysBetween } from './stats.time'

/**
 * Rollups across all groups: `qy_stats_all_day` (the group-day counters of a local day summed over every
 * group) and `qy_stats_all_hour` (messages and speakers of a local hour summed). Reports across every group
 * read one row per day or hour instead of one per group and day (1,000 rows a day at 1,000 groups).
 *
 * Day rows are added to in the transaction that adds to the group rows, with the same additions summed
 * per day (`addAllDays`: the flush's counters and its `active` increment — the batch's new pair-days —,
 * the event counters), so they stay the sum of the group rows without a sum over every group's row of
 * each touched day. Hour rows are recomputed from
 * the group-hour rows of the hours touched (`refreshAllGroups`: hour speakers are recounted, not added).
 * A rebuild that rewrites group rows recomputes its whole range from them (`rebuildAllGroups`).
 *
 * Distinct counts stay exact in the sense the reports use across groups: `active` and `speakers` count
 * member-group pairs (a member active in two groups counts in each), which is the sum of the groups' own
 * distinct counts. Distinct members over a multi-day range (WAU/MAU) are not sums and are not stored here:
 * they come from the member-month masks.
 *
 * MySQL: two replicas flushing the same day would each recompute hour sums from group rows the other holds
 * locked (deadlock), or from a snapshot missing the other's uncommitted rows (a stale sum). `lockDays`
 * takes the all-day rows' locks first, in day order, before any group row is written, which serialises the
 * stats writers of a day across replicas. SQLite has one writer.
 */

const DAY_COLUMNS = ['messages', 'text_count', 'media_count', 'card_count', 'other_count', 'active', 'joins', 'leaves', 'checkins', 'autoreply_hits', 'moderation_hits', 'moderation_actions']
/** Keys per statement. */
const CHUNK = 100

/** MySQL: locks the all-day rows of `days` (created empty if missing) in day order; call before writing group rows. */
export async function lockDays(tx: FeatureTables, days: Iterable<string>): Promise<void> {
  if (tx.dialect !== 'mysql') return
  const sorted = [...new Set(days)].sort()
  for (let i = 0; i < sorted.length; i += CHUNK) {
    const part = sorted.slice(i, i + CHUNK)
    await tx.query(`INSERT INTO qy_stats_all_day (day) VALUES ${part.map(() => '(?)').join(', ')} ON DUPLICATE KEY UPDATE day = day`, part)
  }
}

/**
 * Adds group-day rows ([group, day, ...values of `columns`]) to the all-group day rows: the same additions
 * as the group rows, summed per day (call in the transaction that adds them, after `lockDays`).
 */
export async function addAllDays(tx: FeatureTables, columns: readonly string[], groupDay: readonly Row[]): Promise<void> {
  const byDay = new Map<string, Row>()
  for (const r of groupDay) {
    const day = r[1] as string
    const row = byDay.get(day)
    if (!row) { byDay.set(day, [day, ...r.slice(2, 2 + columns.length)]); continue }
    for (let i = 0; i < columns.length; i++) row[1 + i] = (row[1 + i] as number) + (r[2 + i] as number)
  }
  await upsertAdd(tx, 'qy_stats_all_day', ['day'], [], [...columns], [...byDay.values()])
}

/** Recomputes the all-group rows of `days` (all-day) and `hours` (all-hour) from the group rows. */
export async function refreshAllGroups(tx: FeatureTables, days: Iterable<string>, hours: Iterable<[string, number]> = []): Promise<void> {
  const dayList = [...new Set(days)].sort()
  const upsertTail = (cols: string[], keys: string[]): string => tx.dialect === 'mysql'
    ? ` ON DUPLICATE KEY UPDATE ${cols.map((c) => `${c} = VALUES(${c})`).join(', ')}`
    : ` ON CONFLICT(${keys.join(', ')}) DO UPDATE SET ${cols.map((c) => `${c} = excluded.${c}`).join(', ')}`
  for (let i = 0; i < dayList.length; i += CHUNK) {
    const part = dayList.slice(i, i + CHUNK)
    await tx.query(
      `INSERT INTO qy_stats_all_day (day, ${DAY_COLUMNS.join(', ')}) SELECT day, ${DAY_COLUMNS.map((c) => `SUM(${c})`).join(', ')} FROM qy_stats_group_day WHERE day IN (${part.map(() => '?').join(', ')}) GROUP BY day${upsertTail(DAY_COLUMNS, ['day'])}`,
      part)
  }
  const seen = new Set<string>()
  const hourList: Array<[string, number]> = []
  for (const [day, hour] of hours) {
    const k = `${day} ${hour}`
    if (!seen.has(k)) { seen.add(k); hourList.push([day, hour]) }
  }
  hourList.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1]))
  for (let i = 0; i < hourList.length; i += CHUNK) {
    const part = hourList.slice(i, i + CHUNK)
    await tx.query(
      `INSERT INTO qy_stats_all_hour (day, hour, weekday, messages, speakers) SELECT day, hour, MIN(weekday), SUM(messages), SUM(speakers) FROM qy_stats_group_hour WHERE ${part.map(() => '(day = ? AND hour = ?)').join(' OR ')} GROUP BY day, hour${upsertTail(['weekday', 'messages', 'speakers'], ['day', 'hour'])}`,
      part.flat())
  }
}

/**
 * Recomputes every all-group row of the local days [from, to] from the group rows (a rebuild; a bench
 * that wrote group rows directly). Hours without group rows any more are deleted first.
 */
export async function rebuildAllGroups(tx: FeatureTables, from: string, to: string): Promise<void> {
  const days: string[] = []
  for (let i = 0, n = daysBetween(from, to); i < n; i++) days.push(addDays(from, i))
  await lockDays(tx, days)
  await tx.query('DELETE FROM qy_stats_all_hour WHERE day >= ? AND day <= ?', [from, to])
  for (const day of days) {
    await refreshAllGroups(tx, [day])
    await tx.query('INSERT INTO qy_stats_all_hour (day, hour, weekday, messages, speakers) SELECT day, hour, MIN(weekday), SUM(messages), SUM(speakers) FROM qy_stats_group_hour WHERE day = ? GROUP BY day, hour', [day])
  }
  // Days no group has rows for keep no all-group row (MySQL's `lockDays` created them empty as lock anchors),
  // so both databases hold the same rows.
  await tx.query('DELETE FROM qy_stats_all_day WHERE day >= ? AND day <= ? AND NOT EXISTS (SELECT 1 FROM qy_stats_group_day g WHERE g.day = qy_stats_all_day.day)', [from, to])
}

/** After a rebuild of one group's rows for [from, to]: its reach rows and the all-group rows of the range. */
export async function afterGroupRebuild(tx: FeatureTables, groupId: string, from: string, to: string): Promise<void> {
  await rebuildGroupReach(tx, groupId)
  await rebuildAllGroups(tx, from, to)
}
