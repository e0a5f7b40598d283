import type { FeatureWrites } from '../../adapters/db/feature-store'
import type { Row } from '../../adapters/db/sql'

/**
 * Multi-row upsert that adds `incremented` columns to an existing row; `fixed` columns are written on
 * insert only (derived from the key, e.g. the weekday of a day). The shared `upsertIncrement` names every
 * non-incremented column as the conflict target, which SQLite refuses when it is not exactly the key.
 */
export async function upsertAdd(tx: FeatureWrites, table: string, keys: string[], fixed: string[], incremented: string[], rows: Row[]): Promise<void> {
  if (rows.length === 0) return
  const columns = [...keys, ...fixed, ...incremented]
  const tail = tx.dialect === 'mysql'
    ? ` ON DUPLICATE KEY UPDATE ${incremented.map((c) => `${c} = ${c} + VALUES(${c})`).join(', ')}`
    : ` ON CONFLICT(${keys.join(',')}) DO UPDATE SET ${incremented.map((c) => `${c} = ${c} + excluded.${c}`).join(', ')}`
  await tx.upsertRows(table, columns, tail, rows)
}

/** Multi-row upsert that ORs `column` (a bit mask) into an existing row: idempotent, order-free. */
export async function upsertOr(tx: FeatureWrites, table: string, keys: string[], column: string, rows: Row[]): Promise<void> {
  if (rows.length === 0) return
  const columns = [...keys, column]
  const tail = tx.dialect === 'mysql' ? ` ON DUPLICATE KEY UPDATE ${column} = ${column} | VALUES(${column})` : ` ON CONFLICT(${keys.join(',')}) DO UPDATE SET ${column} = ${column} | excluded.${column}`
  await tx.upsertRows(table, columns, tail, rows)
}
