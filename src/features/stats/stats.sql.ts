import type { FeatureTables } from '../../adapters/db/feature-store'
import type { Row } from '../../adapters/db/sql'

// Same statement sizes as the shared writers: SQLite binds natively, mysql2 formats in JavaScript.
const MAX_PARAMS = { sqlite: 30_000, mysql: 3_000 }

/**
 * Multi-row upsert that adds `incremented` columns to an existing row; `fixed` columns are written on
 * insert only (derived from the key, e.g. the weekday of a day). The shared `upsertIncrement` names every
 * non-incremented column as the conflict target, which SQLite refuses when it is not exactly the key.
 */
export async function upsertAdd(tx: FeatureTables, table: string, keys: string[], fixed: string[], incremented: string[], rows: Row[]): Promise<void> {
  if (rows.length === 0) return
  const columns = [...keys, ...fixed, ...incremented]
  const size = Math.max(1, Math.floor(MAX_PARAMS[tx.dialect] / columns.length))
  const one = `(${columns.map(() => '?').join(',')})`
  const tail = tx.dialect === 'mysql'
    ? ` ON DUPLICATE KEY UPDATE ${incremented.map((c) => `${c} = ${c} + VALUES(${c})`).join(', ')}`
    : ` ON CONFLICT(${keys.join(',')}) DO UPDATE SET ${incremented.map((c) => `${c} = ${c} + excluded.${c}`).join(', ')}`
  for (let i = 0; i < rows.length; i += size) {
    const part = rows.slice(i, i + size)
    await tx.query(`INSERT INTO ${table} (${columns.join(',')}) VALUES ${part.map(() => one).join(',')}${tail}`, part.flat())
  }
}

/** Multi-row upsert that ORs `column` (a bit mask) into an existing row: idempotent, order-free. */
export async function upsertOr(tx: FeatureTables, table: string, keys: string[], column: string, rows: Row[]): Promise<void> {
  if (rows.length === 0) return
  const columns = [...keys, column]
  const size = Math.max(1, Math.floor(MAX_PARAMS[tx.dialect] / columns.length))
  const one = `(${columns.map(() => '?').join(',')})`
  const tail = tx.dialect === 'mysql' ? ` ON DUPLICATE KEY UPDATE ${column} = ${column} | VALUES(${column})` : ` ON CONFLICT(${keys.join(',')}) DO UPDATE SET ${column} = ${column} | excluded.${column}`
  for (let i = 0; i < rows.length; i += size) {
    const part = rows.slice(i, i + size)
    await tx.query(`INSERT INTO ${table} (${columns.join(',')}) VALUES ${part.map(() => one).join(',')}${tail}`, part.flat())
  }
}
