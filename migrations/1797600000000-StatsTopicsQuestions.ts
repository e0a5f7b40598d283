import { Table, TableColumn, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm'
import { columns } from './columns'

/**
 * Stats: hot-topic terms per group-day, questions and their resolution per group-hour, answer-time
 * histogram per group-day, and false-positive reversals per moderation rule.
 */
export class StatsTopicsQuestions1797600000000 implements MigrationInterface {
  name = 'StatsTopicsQuestions1797600000000'

  async up(q: QueryRunner): Promise<void> {
    const { str, int } = columns(q)
    const n = (name: string): ReturnType<typeof int> => int(name, { type: 'integer' })
    const key = (name: string, length: number): ReturnType<typeof str> => str(name, length, { isPrimary: true })
    await q.createTable(new Table({
      name: 'qy_stats_term_day',
      // Only the primary key: every read names its groups (its prefix), and writes stay cheap.
      columns: [key('group_id', 191), key('day', 10), key('term', 64), n('n')],
    }), true)
    await q.createTable(new Table({
      name: 'qy_stats_question_hour',
      columns: [key('group_id', 191), key('day', 10), { name: 'hour', type: 'integer', isPrimary: true }, { name: 'weekday', type: 'integer' }, n('questions'), n('resolved'), n('by_autoreply')],
      indices: [new TableIndex({ name: 'idx_stats_question_hour_day', columnNames: ['day', 'group_id', 'hour', 'weekday', 'questions', 'resolved', 'by_autoreply'] })],
    }), true)
    await q.createTable(new Table({
      name: 'qy_stats_answer_minute',
      columns: [key('group_id', 191), key('day', 10), { name: 'minute', type: 'integer', isPrimary: true }, n('n')],
    }), true)
    await q.addColumn('qy_stats_rule_day', new TableColumn(n('reversals')))
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropColumn('qy_stats_rule_day', 'reversals')
    for (const table of ['qy_stats_answer_minute', 'qy_stats_question_hour', 'qy_stats_term_day']) await q.dropTable(table, true)
  }
}
