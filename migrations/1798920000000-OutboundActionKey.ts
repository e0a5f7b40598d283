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
    await q.createIndex('qy_outbound', new TableIndex({ name: 'uq_outbound_key', columnNames: ['action_key'], isUnique: true }))
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropIndex('qy_outbound', 'uq_outbound_key')
    await q.dropColumn('qy_outbound', 'action_key')
  }
}
