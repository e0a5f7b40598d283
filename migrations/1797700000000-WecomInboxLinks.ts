import { Table, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm'
import { columns } from './columns'

/**
 * The official WeCom API: a durable inbox of verified callbacks (acknowledged only once stored, processed
 * by a worker that survives restarts), and for channel both the links between WeCom chat ids and puppet
 * room ids, and between official and puppet member ids.
 */
export class WecomInboxLinks1797700000000 implements MigrationInterface {
  name = 'WecomInboxLinks1797700000000'

  async up(q: QueryRunner): Promise<void> {
    const { str, int, ms, text, id } = columns(q)
    await q.createTable(new Table({
      name: 'qy_wecom_inbox',
      columns: [
        id(), str('bot_id', 64), str('event_key', 64), text('payload'), str('status', 16), int('attempts', { type: 'integer' }),
        str('error', 500, { isNullable: true }), ms('received_at'), ms('due_at'), ms('processed_at', true),
        str('claim_owner', 100, { isNullable: true }), ms('claim_until', true),
      ],
      indices: [
        new TableIndex({ name: 'uq_wecom_inbox_key', columnNames: ['bot_id', 'event_key'], isUnique: true }),
        new TableIndex({ name: 'idx_wecom_inbox_due', columnNames: ['bot_id', 'status', 'due_at'] }),
      ],
    }), true)
    await q.createTable(new Table({
      name: 'qy_wecom_group_link',
      columns: [
        str('bot_id', 64, { isPrimary: true }), str('chat_id', 191, { isPrimary: true }), str('room_id', 191), str('source', 16),
        { name: 'linked_by', type: 'integer', isNullable: true }, ms('linked_at'),
      ],
      indices: [new TableIndex({ name: 'uq_wecom_group_link_room', columnNames: ['bot_id', 'room_id'], isUnique: true })],
    }), true)
    await q.createTable(new Table({
      name: 'qy_wecom_member_link',
      columns: [str('bot_id', 64, { isPrimary: true }), str('official_id', 191, { isPrimary: true }), str('puppet_id', 191), ms('linked_at')],
    }), true)
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('qy_wecom_member_link', true)
    await q.dropTable('qy_wecom_group_link', true)
    await q.dropTable('qy_wecom_inbox', true)
  }
}
