import { LessThan, MoreThan, type DataSource } from 'typeorm'
import type { SeenStore } from '../../ports/ports'
import { SeenMessageEntity } from './core.entity'
import { insertIgnore } from './sql'

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

  save(rows: Array<[string, number]>): Promise<void> {
    return insertIgnore(this.db, 'qy_seen_message', ['id', 'expires_at'], rows)
  }

  async purge(now: number): Promise<void> {
    await this.db.getRepository(SeenMessageEntity).delete({ expiresAt: LessThan(now) })
  }
}
