import { Table, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm'
import { columns } from './columns'

/** Stats: open questions kept across restarts (answered, expired or purged within the answer window). */
export class StatsOpenQuestions1798400000000 implements MigrationInterface {
  name = 'StatsOpenQuestions1798400000000'

  async up(q: QueryRunner): Promise<void> {
    const { str, ms } = columns(q)
    await q.createTable(new Table({
      name: 'qy_stats_open_question',
      columns: [str('group_id', 191, { isPrimary: true }), str('message_id', 191, { isPrimary: true }), str('sender_id', 191), ms('at'), str('day', 10), { name: 'hour', type: 'integer' }, ms('deadline')],
      indices: [new TableIndex({ name: 'idx_stats_open_question_deadline', columnNames: ['deadline'] })],
    }), true)
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('qy_stats_open_question', true)
  }
}
