import { TableColumn, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm'
import { columns } from './columns'

/** Ids per UPDATE when existing rows are numbered. */
const CHUNK = 500

/**
 * Moderation events are written once per message: `hit` says which violation of its message a row is
 * (0, 1, … in detection order) and (group_id, message_id, hit) is unique, so the batch writer's
 * insert-ignore adds nothing when a message is processed twice (a redelivered copy whose dedupe mark a
 * kill lost, a flush retried after a commit whose outcome was lost). Rows without a message (NULL) stay
 * unconstrained on both dialects.
 *
 * Rows already stored are numbered in id order within their (group, message) before the index is
 * created, so the index creation cannot fail on an upgraded database — also where a message was processed
 * twice before this migration: those duplicates are kept (numbered after the first processing's rows),
 * not deleted, since a second processing's rows cannot be told apart from a message's several violations.
 */
export class ModerationEventOnce1798940300000 implements MigrationInterface {
  name = 'ModerationEventOnce1798940300000'

  async up(q: QueryRunner): Promise<void> {
    const { int } = columns(q)
    await q.addColumn('qy_moderation_event', new TableColumn(int('hit', { type: 'integer' })))
    // Only messages with more than one row need numbers other than the default 0.
    const rows: Array<{ id: number | string; group_id: string; message_id: string }> = await q.query(
      `SELECT e.id, e.group_id, e.message_id FROM qy_moderation_event e
       JOIN (SELECT group_id, message_id FROM qy_moderation_event WHERE message_id IS NOT NULL GROUP BY group_id, message_id HAVING COUNT(*) > 1) d
         ON d.group_id = e.group_id AND d.message_id = e.message_id
       ORDER BY e.group_id, e.message_id, e.id`,
    )
    const byHit = new Map<number, number[]>()
    let key = ''
    let hit = 0
    for (const r of rows) {
      const k = `${r.group_id}\u0000${r.message_id}`
      hit = k === key ? hit + 1 : 0
      key = k
      if (hit === 0) continue
      let ids = byHit.get(hit)
      if (!ids) byHit.set(hit, (ids = []))
      ids.push(Number(r.id))
    }
    for (const [n, ids] of byHit) {
      for (let i = 0; i < ids.length; i += CHUNK) {
        const part = ids.slice(i, i + CHUNK)
        await q.query(`UPDATE qy_moderation_event SET hit = ? WHERE id IN (${part.map(() => '?').join(',')})`, [n, ...part])
      }
    }
    await q.createIndex('qy_moderation_event', new TableIndex({ name: 'uq_moderation_event_message', columnNames: ['group_id', 'message_id', 'hit'], isUnique: true }))
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropIndex('qy_moderation_event', 'uq_moderation_event_message')
    await q.dropColumn('qy_moderation_event', 'hit')
  }
}
