import { LessThan, type DataSource } from 'typeorm'
import type { SeenFilter } from '../kernel/processor'
import type { Clock } from '../ports/clock'
import type { Dedupe } from '../ports/ports'
import type { MemoryDedupe } from '../ports/memory'
import { SeenMessageEntity } from '../adapters/db/core.entity'
import { insertIgnore, type Row } from '../adapters/db/sql'

/** A SeenFilter that can also persist and be purged. */
export interface DurableSeenFilter extends SeenFilter {
  /** Loads marks saved by an earlier run. */
  load(): Promise<number>
  /** Writes marks recorded since the last flush. */
  flush(): Promise<void>
  /** Deletes expired marks from storage. */
  purge(): Promise<void>
}

/**
 * Embedded dedupe: in-memory marks (synchronous hot path) written to qy_seen_message on every flush and
 * reloaded at start, so a message re-delivered after a restart is still recognised.
 */
export class EmbeddedSeenFilter implements DurableSeenFilter {
  private pending: Row[] = []
  constructor(private readonly memory: MemoryDedupe, private readonly db: DataSource, private readonly clock: Clock, private readonly ttlMs: number) {}

  firstSeen(id: string): boolean {
    const first = this.memory.firstSeenSync(id, this.ttlMs)
    if (first) this.pending.push([id, this.clock.now() + this.ttlMs])
    return first
  }

  async load(): Promise<number> {
    const rows = await this.db.getRepository(SeenMessageEntity).find({ where: {} })
    for (const row of rows) this.memory.restore(row.id, row.expiresAt)
    return rows.length
  }

  async flush(): Promise<void> {
    if (this.pending.length === 0) return
    const rows = this.pending
    this.pending = []
    try {
      await insertIgnore(this.db, 'qy_seen_message', ['id', 'expires_at'], rows)
    } catch (error) {
      this.pending = rows.concat(this.pending)
      throw error
    }
  }

  async purge(): Promise<void> {
    await this.db.getRepository(SeenMessageEntity).delete({ expiresAt: LessThan(this.clock.now()) })
  }
}

/** Shared dedupe (Redis): the port already survives restarts of this process. */
export class SharedSeenFilter implements DurableSeenFilter {
  constructor(private readonly dedupe: Dedupe, private readonly ttlMs: number) {}
  firstSeen(id: string): Promise<boolean> { return this.dedupe.firstSeen(`seen:${id}`, this.ttlMs) }
  async load(): Promise<number> { return 0 }
  async flush(): Promise<void> {}
  async purge(): Promise<void> {}
}
