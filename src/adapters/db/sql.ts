import type { DataSource, EntityManager } from 'typeorm'
import { dialectOf, type Dialect } from './data-source'
import { submitPlan, writerOf, type SqliteWriter } from './sqlite-writer'
import { insideTransaction } from './transaction'

/** A row of column values in a fixed column order. */
export type Row = Array<string | number | null>

/**
 * The rows with equal values in `column` next to each other, in their original order otherwise (first
 * appearance of a value decides its place; linear time, so a big batch does not hold the loop as a sort
 * would). Written in slices, rows clustered by group touch the index pages of a few groups per commit.
 */
export function clusterBy<T extends Row>(rows: readonly T[], column: number): T[]
export function clusterBy<T>(items: readonly T[], keyOf: (item: T) => unknown): T[]
export function clusterBy<T>(items: readonly T[], by: number | ((item: T) => unknown)): T[] {
  const keyOf = typeof by === 'number' ? (item: T): unknown => (item as unknown as Row)[by] : by
  const lists = new Map<unknown, T[]>()
  for (const item of items) {
    const key = keyOf(item)
    const list = lists.get(key)
    if (list) list.push(item)
    else lists.set(key, [item])
  }
  if (lists.size === items.length) return [...items]
  const out: T[] = []
  for (const list of lists.values()) for (const item of list) out.push(item)
  return out
}

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

/** The parts of a better-sqlite3 statement and connection used here. */
interface SqliteStatement { run(params: unknown[]): unknown }
interface SqliteConnection { prepare(sql: string): SqliteStatement; readonly inTransaction: boolean; transaction(fn: () => void): () => void }

/** Rows per reused SQLite multi-row statement (the rest of a batch runs through the one-row statement). */
const SQLITE_BATCH_ROWS = 50

/** Prepared statements of one SQLite connection, by statement text (a fixed set: one-row and batch forms). */
const prepared = new WeakMap<SqliteConnection, Map<string, SqliteStatement>>()

function sqliteStatement(connection: SqliteConnection, sql: string): SqliteStatement {
  let cache = prepared.get(connection)
  if (!cache) prepared.set(connection, (cache = new Map()))
  let statement = cache.get(sql)
  if (!statement) cache.set(sql, (statement = connection.prepare(sql)))
  return statement
}

/**
 * Runs `INSERT … VALUES (…)… tail` for every row. SQLite: statements of a fixed number of rows prepared
 * once per connection and reused across flushes (compiling a statement of thousands of rows cost more than
 * running it), bound from one reused parameter array, the remainder row by row; on the same connection as
 * TypeORM, so inside a transaction they are part of it. MySQL: multi-row statements of bounded size.
 */
export async function insertRows(db: DataSource | EntityManager, head: string, width: number, tail: string, rows: Row[]): Promise<void> {
  if (rows.length === 0) return
  const ds = 'connection' in db ? db.connection : db
  const dialect = dialectOf(ds)
  if (dialect === 'sqlite') {
    const writer = threadFor(db)
    if (writer) return submitPlan(ds, writer, [{ kind: 'rows', head, width, tail, rows }])
    const connection = (ds.driver as unknown as { databaseConnection: SqliteConnection }).databaseConnection
    const work = (): void => {
      let i = 0
      if (rows.length >= SQLITE_BATCH_ROWS) {
        const batch = sqliteStatement(connection, `${head} VALUES ${placeholders(SQLITE_BATCH_ROWS, width)}${tail}`)
        const params = new Array<string | number | null>(SQLITE_BATCH_ROWS * width)
        for (; i + SQLITE_BATCH_ROWS <= rows.length; i += SQLITE_BATCH_ROWS) {
          let k = 0
          for (let r = i; r < i + SQLITE_BATCH_ROWS; r++) {
            const row = rows[r] as Row
            for (let c = 0; c < width; c++) params[k++] = row[c] as string | number | null
          }
          batch.run(params)
        }
      }
      if (i < rows.length) {
        const one = sqliteStatement(connection, `${head} VALUES ${placeholders(1, width)}${tail}`)
        for (; i < rows.length; i++) one.run(rows[i] as Row)
      }
    }
    // Outside a transaction the rows are still written all or nothing, as one multi-row statement was
    // (synchronous: nothing else runs on the connection meanwhile).
    if (connection.inTransaction || rows.length === 1) work()
    else connection.transaction(work)()
    return
  }
  for (const part of chunks(rows, width, dialect)) await db.query(`${head} VALUES ${placeholders(part.length, width)}${tail}`, part.flat())
}

/**
 * Runs one statement once per parameter row. SQLite: prepared once per connection and reused, all rows in
 * one transaction (the caller's, or one of its own). MySQL: one round trip per row, so callers keep it to
 * SQLite or few rows.
 */
export async function runEach(db: DataSource | EntityManager, sql: string, rows: Row[]): Promise<void> {
  if (rows.length === 0) return
  const ds = 'connection' in db ? db.connection : db
  if (dialectOf(ds) === 'sqlite') {
    const writer = threadFor(db)
    if (writer) return submitPlan(ds, writer, [{ kind: 'each', sql, rows }])
    const connection = (ds.driver as unknown as { databaseConnection: SqliteConnection }).databaseConnection
    const statement = sqliteStatement(connection, sql)
    const work = (): void => { for (const row of rows) statement.run(row) }
    if (connection.inTransaction || rows.length === 1) work()
    else connection.transaction(work)()
    return
  }
  for (const row of rows) await db.query(sql, row)
}

/**
 * The writer thread a write outside any transaction goes to (adapters/db/sqlite-writer); null inside a
 * transaction (the write belongs to it, on the main connection) or without a thread.
 */
function threadFor(db: DataSource | EntityManager): SqliteWriter | null {
  if ('connection' in db && db.queryRunner) return null
  const ds = 'connection' in db ? db.connection : db
  const writer = writerOf(ds)
  return writer && !insideTransaction(ds) ? writer : null
}

/** `head` and `tail` of an upsert that adds `incremented` columns to the existing row (see upsertIncrement). */
export function upsertIncrementSql(dialect: Dialect, table: string, keys: string[], incremented: string[]): { head: string; tail: string; width: number } {
  const columns = [...keys, ...incremented]
  const tail = dialect === 'mysql'
    ? ` ON DUPLICATE KEY UPDATE ${incremented.map((c) => `${c} = ${c} + VALUES(${c})`).join(', ')}`
    : ` ON CONFLICT(${keys.join(',')}) DO UPDATE SET ${incremented.map((c) => `${c} = ${c} + excluded.${c}`).join(', ')}`
  return { head: `INSERT INTO ${table} (${columns.join(',')})`, tail, width: columns.length }
}

/** `head` of an insert that skips rows whose key exists (see insertIgnore). */
export function insertIgnoreHead(dialect: Dialect, table: string, columns: string[]): string {
  return `${dialect === 'mysql' ? 'INSERT IGNORE INTO' : 'INSERT OR IGNORE INTO'} ${table} (${columns.join(',')})`
}

/**
 * Inserts rows, adding `incremented` columns to the existing row when the key exists
 * (INSERT … ON CONFLICT DO UPDATE on SQLite, ON DUPLICATE KEY UPDATE on MySQL). Multi-row statements.
 */
export async function upsertIncrement(db: DataSource | EntityManager, table: string, keys: string[], incremented: string[], rows: Row[]): Promise<void> {
  if (rows.length === 0) return
  const ds = 'connection' in db ? db.connection : db
  const { head, tail, width } = upsertIncrementSql(dialectOf(ds), table, keys, incremented)
  await insertRows(db, head, width, tail, rows)
}

/** Inserts rows, silently skipping those whose key already exists. Multi-row statements. */
export async function insertIgnore(db: DataSource | EntityManager, table: string, columns: string[], rows: Row[]): Promise<void> {
  if (rows.length === 0) return
  const ds = 'connection' in db ? db.connection : db
  await insertRows(db, insertIgnoreHead(dialectOf(ds), table, columns), columns.length, '', rows)
}
