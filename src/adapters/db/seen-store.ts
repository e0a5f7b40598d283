import { LessThan, MoreThan, type DataSource } from 'typeorm'
import type { SeenStore } from '../../ports/ports'
import { SeenMessageEntity } from './core.entity'
import { dialectOf } from './data-source'
import { insertIgnore } from './sql'

/** Marks per SQLite statement (a few milliseconds of synchronous work; fewer commits than smaller slices). */
const SQLITE_SLICE_ROWS = 5_000

/** Message-id marks of the in-process dedupe, kept in qy_seen_message until they expire. */
export class DbSeenStore implements SeenStore {
  constructor(private readonly db: DataSource) {}

  async load(now: number): Promise<Array<[string, number]>> {
    const rows = await this.db.getRepository(SeenMessageEntity).find({ where: { expiresAt: MoreThan(now) } })
    return rows.map((r) => [r.id, r.expiresAt])
  }

  async has(id: string, now: number): Promise<boolean> {
    return (await this.db.getRepository(SeenMessageEntity).countBy({ id, expiresAt: MoreThan(now) })) > 0
  }

  async save(rows: Array<[string, number]>): Promise<void> {
    if (dialectOf(this.db) !== 'sqlite') return insertIgnore(this.db, 'qy_seen_message', ['id', 'expires_at'], rows)
    // SQLite writes on this thread: slices of a few milliseconds, yielding to the event loop in between.
    for (let i = 0; i < rows.length; i += SQLITE_SLICE_ROWS) {
      if (i > 0) await new Promise((resolve) => setImmediate(resolve))
      await insertIgnore(this.db, 'qy_seen_message', ['id', 'expires_at'], rows.slice(i, i + SQLITE_SLICE_ROWS))
    }
  }

  async purge(now: number): Promise<void> {
    await this.db.getRepository(SeenMessageEntity).delete({ expiresAt: LessThan(now) })
  }
}
