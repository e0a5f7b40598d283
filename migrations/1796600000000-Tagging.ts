import { Table, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm'
import { columns } from './columns'

/** Member engagement and lifecycle: per-member state and score, the daily watermark, timelines, tags, keyword hits. */
export class Tagging1796600000000 implements MigrationInterface {
  name = 'Tagging1796600000000'

  async up(q: QueryRunner): Promise<void> {
    const { str, ms, id } = columns(q)
    const integer = (name: string) => ({ name, type: 'integer', default: 0 })
    const double = (name: string) => ({ name, type: 'double', default: 0 })
    await q.createTable(new Table({
      name: 'qy_tagging_member',
      columns: [
        str('group_id', 191, { isPrimary: true }), str('member_id', 191, { isPrimary: true }), str('state', 10), ms('state_at'), str('state_day', 10),
        ms('joined_at', true), str('inviter_id', 191, { isNullable: true }), str('seen_day', 10), str('last_active_day', 10, { isNullable: true }),
        integer('messages'), integer('active_days'), double('score'), str('segment', 16, { isNullable: true }), ms('woken_at', true),
      ],
      indices: [
        new TableIndex({ name: 'idx_tagging_member_state', columnNames: ['group_id', 'state', 'seen_day'] }),
        new TableIndex({ name: 'idx_tagging_member_score', columnNames: ['group_id', 'score'] }),
        new TableIndex({ name: 'idx_tagging_member_seen', columnNames: ['group_id', 'seen_day'] }),
      ],
    }), true)
    await q.createTable(new Table({
      name: 'qy_tagging_group',
      columns: [str('group_id', 191, { isPrimary: true }), str('rolled_day', 10, { isNullable: true }), ms('epoch'), double('half_life'), integer('tag_version'), ms('updated_at')],
    }), true)
    await q.createTable(new Table({
      name: 'qy_tagging_history',
      columns: [id(), str('group_id', 191), str('member_id', 191), str('kind', 16), str('detail', 200, { isNullable: true }), str('ref', 191), ms('at')],
      indices: [
        new TableIndex({ name: 'uq_tagging_history_ref', columnNames: ['group_id', 'member_id', 'ref'], isUnique: true }),
        new TableIndex({ name: 'idx_tagging_history_member', columnNames: ['group_id', 'member_id', 'at'] }),
        new TableIndex({ name: 'idx_tagging_history_kind', columnNames: ['group_id', 'kind', 'at'] }),
      ],
    }), true)
    await q.createTable(new Table({
      name: 'qy_tagging_tag',
      columns: [str('group_id', 191, { isPrimary: true }), str('member_id', 191, { isPrimary: true }), str('tag', 64, { isPrimary: true }), str('source', 64), ms('at')],
      indices: [new TableIndex({ name: 'idx_tagging_tag_group', columnNames: ['group_id', 'tag'] })],
    }), true)
    await q.createTable(new Table({
      name: 'qy_tagging_keyword',
      columns: [str('group_id', 191, { isPrimary: true }), str('member_id', 191, { isPrimary: true }), str('rule_id', 40, { isPrimary: true }), str('day', 10)],
      indices: [new TableIndex({ name: 'idx_tagging_keyword_rule', columnNames: ['group_id', 'rule_id', 'day'] })],
    }), true)
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['qy_tagging_keyword', 'qy_tagging_tag', 'qy_tagging_history', 'qy_tagging_group', 'qy_tagging_member']) await q.dropTable(table, true)
  }
}
