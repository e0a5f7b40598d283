import { TableColumn, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm'
import { columns } from './columns'

/**
 * An outbound action may carry a unique key (`share:12:text`): stored at most once, so work a feature
 * re-posts after a crash between its own commit and the action's store (from any replica) goes out once,
 * and the feature can ask whether the action for a key exists.
 */
export class OutboundActionKey1798920000000 implements MigrationInterface {
  name = 'OutboundActionKey1798920000000'

  async up(q: QueryRunner): Promise<void> {
    const c = columns(q)
    await q.addColumn('qy_outbound', new TableColumn(c.str('action_key', 191, { isNullable: true })))
    // Share actions stored before keys existed get theirs (their cause), so the share sweep does not post
    // a send again whose actions are already stored. Only the last two days (the sweep looks back one).
    const since = Date.now() - 2 * 86_400_000
    const rows: Array<{ id: number; payload: string }> = await q.query(`SELECT id, payload FROM qy_outbound WHERE queued_at > ? AND payload LIKE '%"cause":"share:%' ORDER BY id`, [since])
    const seen = new Set<string>()
    for (const r of rows) {
      const cause = (JSON.parse(r.payload) as { cause?: unknown }).cause
      if (typeof cause !== 'string' || !/^share:\d+:(text|image|card)$/.test(cause) || seen.has(cause)) continue
      seen.add(cause)
      await q.query('UPDATE qy_outbound SET action_key = ? WHERE id = ?', [cause, r.id])
    }
    await q.createIndex('qy_outbound', new TableIndex({ name: 'uq_outbound_key', columnNames: ['action_key'], isUnique: true }))
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropIndex('qy_outbound', 'uq_outbound_key')
    await q.dropColumn('qy_outbound', 'action_key')
  }
}
