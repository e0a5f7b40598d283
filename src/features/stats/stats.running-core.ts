import type { FeatureTables } from '../../adapters/db/feature-store'

/**
 * The one mechanism behind the stats running-total tables (per group: stats.running.ts; per member:
 * stats.member-running.ts). A running table holds, for every row of its source table, the totals of its
 * key's source rows on that day and every earlier one, so any range is two rows (the last on or before its
 * end minus the last before its start).
 *
 * Derived, never added to: a transaction that changed source rows recomputes the running rows of the keys
 * it touched from each key's earliest touched day (the last running row before that day plus a window sum
 * over the source rows from it on), inside the same transaction; a rebuild recomputes whole keys.
 */
export interface RunningTable {
  /** The running table (columns: the key columns, `day`, then `columns`' names). */
  table: string
  /** The day-grained table it sums (same key columns and `day`). */
  source: string
  /** Key columns, outermost first (the running table's primary key is these plus `day`). */
  keys: readonly string[]
  /** Each running column and the aggregate of the source it accumulates (`SUM(messages)`, `COUNT(*)`); column names unqualified. */
  columns: ReadonlyArray<{ name: string; sum: string }>
}

/** Keys per statement (a DELETE and an INSERT … SELECT of 100 keys each). */
const KEYS_PER_STATEMENT = 100

/** The aggregate over the source alias `d` (`SUM(messages)` → `SUM(d.messages)`; `COUNT(*)` stays). */
const qualified = (sum: string): string => sum.replace(/\(([a-z_]+)\)/, '(d.$1)')

/**
 * Recomputes the running rows of the touched keys, each from its earliest touched day. `touched` holds
 * the key's values (in `spec.keys` order) followed by the day. Call after the source rows are written.
 */
export async function refreshRunning(tx: FeatureTables, spec: RunningTable, touched: Iterable<readonly string[]>): Promise<void> {
  const width = spec.keys.length
  const earliest = new Map<string, string[]>()
  for (const row of touched) {
    const key = row.slice(0, width).join('\u0000')
    const seen = earliest.get(key)
    const day = row[width] as string
    if (seen === undefined || day < (seen[width] as string)) earliest.set(key, [...row.slice(0, width), day])
  }
  // Key order: two MySQL writers lock the same keys in the same order (no deadlock).
  const all = [...earliest.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, r]) => r)
  const match = (alias: string, param: string): string => spec.keys.map((k, i) => `${alias}.${k} = ${param}${i}`).join(' AND ')
  const names = spec.columns.map((c) => c.name).join(', ')
  for (let i = 0; i < all.length; i += KEYS_PER_STATEMENT) {
    const part = all.slice(i, i + KEYS_PER_STATEMENT)
    const list = part.map(() => `SELECT ${spec.keys.map((_, k) => `? AS k${k}`).join(', ')}, ? AS f`).join(' UNION ALL ')
    await tx.query(`DELETE FROM ${spec.table} WHERE ${part.map(() => `(${spec.keys.map((k) => `${k} = ?`).join(' AND ')} AND day >= ?)`).join(' OR ')}`, part.flat())
    // The base of each key (its last running row before the first touched day) plus a window sum over its
    // source rows from that day on. MySQL: INSERT … SELECT reads the source with shared locks (the latest
    // committed rows), so two replicas writing the same key serialise here instead of summing stale snapshots.
    await tx.query(
      `INSERT INTO ${spec.table} (${spec.keys.join(', ')}, day, ${names})
       SELECT ${spec.keys.map((k) => `d.${k}`).join(', ')}, d.day, ${spec.columns.map((c) => `COALESCE(b.${c.name}, 0) + ${qualified(c.sum)} OVER w`).join(', ')}
       FROM (${list}) p
       JOIN ${spec.source} d ON ${match('d', 'p.k')} AND d.day >= p.f
       LEFT JOIN ${spec.table} b ON ${match('b', 'p.k')}
         AND b.day = (SELECT MAX(x.day) FROM ${spec.table} x WHERE ${match('x', 'p.k')} AND x.day < p.f)
       WINDOW w AS (PARTITION BY ${spec.keys.map((k) => `d.${k}`).join(', ')} ORDER BY d.day ROWS UNBOUNDED PRECEDING)`,
      part.flat())
  }
}

/** Recomputes the running rows of one group (or of every group) from all of its source rows (a bulk load; a rebuild). */
export async function rebuildRunning(tx: FeatureTables, spec: RunningTable, groupId?: string): Promise<void> {
  const where = groupId === undefined ? '' : ' WHERE group_id = ?'
  const params = groupId === undefined ? [] : [groupId]
  await tx.query(`DELETE FROM ${spec.table}${where}`, params)
  await tx.query(
    `INSERT INTO ${spec.table} (${spec.keys.join(', ')}, day, ${spec.columns.map((c) => c.name).join(', ')})
     SELECT ${spec.keys.join(', ')}, day, ${spec.columns.map((c) => `${c.sum} OVER w`).join(', ')} FROM ${spec.source}${where}
     WINDOW w AS (PARTITION BY ${spec.keys.join(', ')} ORDER BY day ROWS UNBOUNDED PRECEDING)`,
    params)
}
