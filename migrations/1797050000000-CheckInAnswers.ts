import { Table, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm'
import { columns } from './columns'

/**
 * Check-in answers kept durably until sent: written with the check-in row, marked answered once the
 * (batched) answer is in the outbound queue's store, so a crash in a batch window loses no answer.
 */
export class CheckInAnswers1797050000000 implements MigrationInterface {
  name = 'CheckInAnswers1797050000000'

  async up(q: QueryRunner): Promise<void> {
    const { str, int, ms, text } = columns(q)
    await q.createTable(new Table({
      name: 'qy_checkin_answer',
      columns: [
        str('group_id', 191, { isPrimary: true }), str('member_id', 191, { isPrimary: true }), str('day', 10, { isPrimary: true }),
        str('bot_id', 191), str('message_id', 191, { isNullable: true }), int('streak', { type: 'integer' }), text('single_text'), text('line_text'), ms('at'), ms('answered_at', true),
      ],
      indices: [new TableIndex({ name: 'idx_checkin_answer_open', columnNames: ['answered_at', 'at'] })],
    }), true)
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('qy_checkin_answer', true)
  }
}
