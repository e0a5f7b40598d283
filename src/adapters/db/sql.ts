import type { DataSource, EntityManager } from 'typeorm'
import { dialectOf } from './data-source'

/** A row of column values in a fixed column order. */
export type Row = Array<string | number | null>

// Statement size: SQLite binds natively (large statements are cheapest; its limit is 32766 parameters);
// mysql2 formats the whole statement synchronously in JavaScript, so smaller ones keep the event loop free.
const MAX_PARAMS = { sqlite: 30_000, mysql: 3_000 }

function chunks(rows: Row[], width: number, dialect: 'sqlite' | 'mysql'): Row[][] {
  const size = Math.max(1, Math.floor(MAX_PARAMS[dialect] / width))
  const out: Row[][] = []
  for (let i = 0; i < rows.length; i += size) out.push(rows.slice(i, i + size))
  return out
}

function placeholders(count: number, width: number): string {
  const one = `(${new Array<string>(width).fill('?').join(',')})`
  return new Array<string>(count).fill(one).join(',')
}

/**
 * Inserts rows, adding `incremented` columns to the existing row when the key exists
 * (INSERT … ON CONFLICT DO UPDATE on SQLite, ON DUPLICATE KEY UPDATE on MySQL). Multi-row statements.
 */
export async function upsertIncrement(db: DataSource | EntityManager, table: string, keys: string[], incremented: string[], rows: Row[]): Promise<void> {
  if (rows.length === 0) return
  const ds = 'connection' in db ? db.connection : db
  const columns = [...keys, ...incremented]
  const dialect = dialectOf(ds)
  for (const part of chunks(rows, columns.length, dialect)) {
    const head = `INSERT INTO ${table} (${columns.join(',')}) VALUES ${placeholders(part.length, columns.length)}`
    const tail = dialect === 'mysql'
      ? ` ON DUPLICATE KEY UPDATE ${incremented.map((c) => `${c} = ${c} + VALUES(${c})`).join(', ')}`
      : ` ON CONFLICT(${keys.join(',')}) DO UPDATE SET ${incremented.map((c) => `${c} = ${c} + excluded.${c}`).join(', ')}`
    await db.query(head + tail, part.flat())
  }
}

/** Inserts rows, silently skipping those whose key already exists. Multi-row statements. */
export async function insertIgnore(db: DataSource | EntityManager, table: string, columns: string[], rows: Row[]): Promise<void> {
  if (rows.length === 0) return
  const ds = 'connection' in db ? db.connection : db
  const dialect = dialectOf(ds)
  const verb = dialect === 'mysql' ? 'INSERT IGNORE INTO' : 'INSERT OR IGNORE INTO'
  for (const part of chunks(rows, columns.length, dialect)) {
    await db.query(`${verb} ${table} (${columns.join(',')}) VALUES ${placeholders(part.length, columns.length)}`, part.flat())
  }
}
