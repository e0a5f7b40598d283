import { Table, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm'
import { columns } from './columns'

/** Daily check-ins: check-ins (unique per member and day), day counters, member summaries, points ledger, reminders. */
export class CheckIn1764000000000 implements MigrationInterface {
  name = 'CheckIn1764000000000'

  async up(q: QueryRunner): Promise<void> {
    const { str, int, ms, id } = columns(q)
    await q.createTable(new Table({
      name: 'qy_checkin',
      columns: [id(), str('group_id', 191), str('member_id', 191), str('day', 10), str('kind', 8), int('day_rank', { isNullable: true, default: null }), ms('at'), str('message_id', 191, { isNullable: true })],
      indices: [
        new TableIndex({ name: 'uq_checkin_member_day', columnNames: ['group_id', 'member_id', 'day'], isUnique: true }),
        new TableIndex({ name: 'idx_checkin_group_day', columnNames: ['group_id', 'day'] }),
      ],
    }), true)
    await q.createTable(new Table({
      name: 'qy_checkin_day',
      columns: [str('group_id', 191, { isPrimary: true }), str('day', 10, { isPrimary: true }), int('count')],
    }), true)
    await q.createTable(new Table({
      name: 'qy_checkin_member',
      columns: [str('group_id', 191, { isPrimary: true }), str('member_id', 191, { isPrimary: true }), str('name', 255), int('streak'), int('best_streak'), int('total_days'), str('last_day', 10, { isNullable: true })],
      indices: [new TableIndex({ name: 'idx_checkin_member_streak', columnNames: ['group_id', 'streak'] })],
    }), true)
    await q.createTable(new Table({
      name: 'qy_points_ledger',
      columns: [id(), str('group_id', 191), str('member_id', 191), str('currency', 16), int('delta'), str('source', 16), str('ref', 100), str('reason', 200, { isNullable: true }), ms('at')],
      indices: [
        new TableIndex({ name: 'idx_ledger_member', columnNames: ['group_id', 'member_id', 'currency'] }),
        new TableIndex({ name: 'uq_ledger_ref', columnNames: ['group_id', 'member_id', 'source', 'ref'], isUnique: true }),
      ],
    }), true)
    await q.createTable(new Table({
      name: 'qy_checkin_reminder',
      columns: [str('group_id', 191, { isPrimary: true }), str('day', 10, { isPrimary: true }), ms('at')],
    }), true)
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['qy_checkin_reminder', 'qy_points_ledger', 'qy_checkin_member', 'qy_checkin_day', 'qy_checkin']) await q.dropTable(table, true)
  }
}
