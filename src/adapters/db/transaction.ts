import type { DataSource, EntityManager } from 'typeorm'
import { dialectOf } from './data-source'

const tails = new WeakMap<DataSource, Promise<void>>()

/**
 * Runs `work` in a transaction. On SQLite (one connection) transactions are serialized in-process:
 * better-sqlite3 cannot nest them, and two interleaved async transactions on one connection would
 * otherwise fail or commit each other's statements. On MySQL each transaction has its own pooled
 * connection and runs concurrently.
 */
export async function withTransaction<T>(db: DataSource, work: (m: EntityManager) => Promise<T>): Promise<T> {
  if (dialectOf(db) !== 'sqlite') return db.transaction(work)
  const previous = tails.get(db) ?? Promise.resolve()
  let release!: () => void
  const mine = new Promise<void>((resolve) => { release = resolve })
  tails.set(db, previous.then(() => mine))
  await previous
  try {
    return await db.transaction(work)
  } finally {
    release()
  }
}
