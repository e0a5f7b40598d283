import { Table, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm'
import { columns } from './columns'

/** Lottery entry confirmations held in a batch window: stored before acknowledged, sent once after a crash (see HeldAnswers). */
export class LotteryAnswers1798920000100 implements MigrationInterface {
  name = 'LotteryAnswers1798920000100'

  async up(q: QueryRunner): Promise<void> {
    const { str, ms, text, id } = columns(q)
    await q.createTable(new Table({
      name: 'qy_lottery_answer',
      columns: [
        id(), str('window_key', 191), str('bot_id', 64), str('group_id', 191), str('member_id', 191), str('message_id', 191, { isNullable: true }),
        text('single_text'), text('line_text'), text('header_text'), str('note', 200), ms('at'), str('batch_key', 100, { isNullable: true }), ms('answered_at', true),
      ],
      indices: [
        new TableIndex({ name: 'idx_lottery_answer_at', columnNames: ['at'] }),
        new TableIndex({ name: 'idx_lottery_answer_batch', columnNames: ['batch_key'] }),
      ],
    }), true)
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('qy_lottery_answer', true)
  }
}
