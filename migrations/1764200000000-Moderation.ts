import { Table, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm'
import { columns } from './columns'

/** Group rules: violation events, strike resets, uploaded word lists, versions of each group's rules. */
export class Moderation1764200000000 implements MigrationInterface {
  name = 'Moderation1764200000000'

  async up(q: QueryRunner): Promise<void> {
    const { str, text, int, ms, bool, id } = columns(q)
    await q.createTable(new Table({
      name: 'qy_moderation_event',
      columns: [id(), str('group_id', 191), str('member_id', 191), str('message_id', 191, { isNullable: true }), str('detector', 16),
        str('matched', 200, { isNullable: true }), str('list_id', 64, { isNullable: true }), str('action', 16), int('strike', { isNullable: true, default: null }),
        str('result', 16), str('reason', 300, { isNullable: true }), bool('shadow', false), ms('at')],
      indices: [
        new TableIndex({ name: 'idx_moderation_event_group_at', columnNames: ['group_id', 'at'] }),
        new TableIndex({ name: 'idx_moderation_event_member', columnNames: ['group_id', 'member_id', 'at'] }),
      ],
    }), true)
    await q.createTable(new Table({
      name: 'qy_strike_reset',
      columns: [str('group_id', 191, { isPrimary: true }), str('member_id', 191, { isPrimary: true }), ms('at')],
    }), true)
    await q.createTable(new Table({
      name: 'qy_word_list',
      columns: [id(), str('name', 100), text('terms'), int('term_count'), int('owner_token_id', { isNullable: true, default: null }), ms('updated_at')],
    }), true)
    await q.createTable(new Table({
      name: 'qy_moderation_version',
      columns: [str('group_id', 191, { isPrimary: true }), { name: 'version', type: 'integer', isPrimary: true }, text('rules'),
        str('author', 100, { isNullable: true }), str('note', 200, { isNullable: true }), ms('at')],
    }), true)
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['qy_moderation_version', 'qy_word_list', 'qy_strike_reset', 'qy_moderation_event']) await q.dropTable(table, true)
  }
}
