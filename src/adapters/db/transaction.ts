import { AsyncLocalStorage } from 'node:async_hooks'
import type { DataSource, EntityManager } from 'typeorm'
import { dialectOf } from './data-source'

const tails = new WeakMap<DataSource, Promise<void>>()

/** The SQLite data source whose transaction the current async context runs inside, if any. */
const current = new AsyncLocalStorage<DataSource>()

/**
 * Runs `work` after everything queued on the data source before it (its transactions and writer-thread
 * plans), and holds the queue until it ends.
 */
export async function serialized<T>(db: DataSource, work: () => Promise<T>): Promise<T> {
  const previous = tails.get(db) ?? Promise.resolve()
  let release!: () => void
  const mine = new Promise<void>((resolve) => { release = resolve })
  tails.set(db, previous.then(() => mine))
  await previous
  try {
    return await work()
  } finally {
    release()
  }
}

/** Whether the caller runs inside one of `db`'s transactions (withTransaction): its writes then belong to it. */
export function insideTransaction(db: DataSource): boolean {
  return current.getStore() === db
}

/**
 * Runs `work` in a transaction. On SQLite (one connection) transactions are serialized in-process:
 * better-sqlite3 cannot nest them, and two interleaved async transactions on one connection would
 * otherwise fail or commit each other's statements; plans of the writer thread (adapters/db/sqlite-writer)
 * take their turn in the same queue. On MySQL each transaction has its own pooled connection and runs
 * concurrently.
 */
export async function withTransaction<T>(db: DataSource, work: (m: EntityManager) => Promise<T>): Promise<T> {
  if (dialectOf(db) !== 'sqlite') return db.transaction(work)
  return serialized(db, () => current.run(db, () => db.transaction(work)))
}
