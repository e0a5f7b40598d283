import { Table, TableIndex, type MigrationInterface, type QueryRunner, type TableColumnOptions } from 'typeorm'
import { columns } from './columns'

/** Lotteries: lotteries, entries (unique per member), draw rounds with proofs (the exactly-once fence), winners. */
export class Lottery1796400000000 implements MigrationInterface {
  name = 'Lottery1796400000000'

  async up(q: QueryRunner): Promise<void> {
    const { str, text, ms, id } = columns(q)
    /** An integer column (no default unless `extra` gives one). */
    const integer = (name: string, extra: Partial<TableColumnOptions> = {}): TableColumnOptions => ({ name, type: 'integer', ...extra })
    await q.createTable(new Table({
      name: 'qy_lottery',
      columns: [
        id(), integer('owner_token_id', { isNullable: true }), str('title', 100), str('status', 16), text('config'),
        ms('opens_at', true), ms('closes_at', true), ms('draw_at', true),
        str('seed', 64, { isNullable: true }), str('commitment', 64, { isNullable: true }), str('entrants_hash', 64, { isNullable: true }),
        integer('entrant_count', { default: 0 }), integer('version', { default: 1 }), ms('created_at'), ms('updated_at'),
        ms('opened_at', true), ms('closed_at', true), ms('drawn_at', true), ms('cancelled_at', true), ms('announced_at', true),
      ],
      indices: [
        new TableIndex({ name: 'idx_lottery_owner', columnNames: ['owner_token_id'] }),
        new TableIndex({ name: 'idx_lottery_status', columnNames: ['status'] }),
      ],
    }), true)
    await q.createTable(new Table({
      name: 'qy_lottery_entry',
      columns: [id(), integer('lottery_id'), str('member_id', 191), str('group_id', 191), str('name', 255), str('method', 8), integer('points', { default: 0 }), ms('at'), str('message_id', 191, { isNullable: true })],
      indices: [new TableIndex({ name: 'uq_lottery_entry_member', columnNames: ['lottery_id', 'member_id'], isUnique: true })],
    }), true)
    await q.createTable(new Table({
      name: 'qy_lottery_draw',
      columns: [integer('lottery_id', { isPrimary: true }), integer('round', { isPrimary: true }), ms('at'), text('proof')],
    }), true)
    await q.createTable(new Table({
      name: 'qy_lottery_winner',
      columns: [
        id(), integer('lottery_id'), integer('round', { default: 0 }), integer('position', { default: 0 }), str('member_id', 191), str('group_id', 191), str('name', 255),
        str('prize', 50), str('claim_code', 16), str('status', 12), ms('claimed_at', true), ms('reminded_at', true), ms('at'),
      ],
      indices: [
        new TableIndex({ name: 'uq_lottery_winner_member', columnNames: ['lottery_id', 'member_id'], isUnique: true }),
        new TableIndex({ name: 'uq_lottery_winner_code', columnNames: ['lottery_id', 'claim_code'], isUnique: true }),
        new TableIndex({ name: 'idx_lottery_winner_status', columnNames: ['status'] }),
      ],
    }), true)
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['qy_lottery_winner', 'qy_lottery_draw', 'qy_lottery_entry', 'qy_lottery']) await q.dropTable(table, true)
  }
}
