import { Table, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm'
import { columns } from './columns'

/** Keyword auto-replies: rules (ordered, owned) and daily hit counts. */
export class AutoReply1764100000000 implements MigrationInterface {
  name = 'AutoReply1764100000000'

  async up(q: QueryRunner): Promise<void> {
    const { str, text, int, ms, bool, id } = columns(q)
    await q.createTable(new Table({
      name: 'qy_auto_reply_rule',
      columns: [id(), int('owner_token_id', { isNullable: true, default: null }), str('name', 100), bool('enabled'), int('position'), bool('also_continue', false),
        text('trigger_def'), text('scope'), text('conditions'), text('cooldown'), text('answer'), int('version', { default: 1 }), ms('created_at'), ms('updated_at')],
      indices: [new TableIndex({ name: 'idx_auto_reply_owner', columnNames: ['owner_token_id'] })],
    }), true)
    await q.createTable(new Table({
      name: 'qy_auto_reply_hit',
      columns: [{ name: 'rule_id', type: 'integer', isPrimary: true }, str('group_id', 191, { isPrimary: true }), str('day', 10, { isPrimary: true }), int('answered'), int('suppressed')],
      indices: [new TableIndex({ name: 'idx_auto_reply_hit_group_day', columnNames: ['group_id', 'day'] })],
    }), true)
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('qy_auto_reply_hit', true)
    await q.dropTable('qy_auto_reply_rule', true)
  }
}
