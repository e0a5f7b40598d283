import { Table, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm'
import { columns } from './columns'

/**
 * Stats rollups of the lottery and tagging features' events: lottery entries per member-day, lotteries
 * drawn per group, lifecycle transitions (from → to) per group-day.
 */
export class StatsLotteryLifecycle1797100000000 implements MigrationInterface {
  name = 'StatsLotteryLifecycle1797100000000'

  async up(q: QueryRunner): Promise<void> {
    const { str, int } = columns(q)
    const n = (name: string): ReturnType<typeof int> => int(name, { type: 'integer' })
    const key = (name: string, length: number): ReturnType<typeof str> => str(name, length, { isPrimary: true })
    await q.createTable(new Table({
      name: 'qy_stats_lottery_day',
      columns: [key('group_id', 191), key('day', 10), key('member_id', 191), n('entries')],
      // Reports across all groups read a day range from the index alone.
      indices: [new TableIndex({ name: 'idx_stats_lottery_day_day', columnNames: ['day', 'group_id', 'member_id', 'entries'] })],
    }), true)
    await q.createTable(new Table({
      name: 'qy_stats_lottery_draw',
      columns: [key('group_id', 191), { name: 'lottery_id', type: 'integer', isPrimary: true }, str('day', 10)],
      indices: [new TableIndex({ name: 'idx_stats_lottery_draw_day', columnNames: ['day', 'group_id', 'lottery_id'] })],
    }), true)
    await q.createTable(new Table({
      name: 'qy_stats_lifecycle_day',
      columns: [key('group_id', 191), key('day', 10), key('from_state', 16), key('to_state', 16), n('n')],
      indices: [new TableIndex({ name: 'idx_stats_lifecycle_day_day', columnNames: ['day', 'group_id', 'from_state', 'to_state', 'n'] })],
    }), true)
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['qy_stats_lifecycle_day', 'qy_stats_lottery_draw', 'qy_stats_lottery_day']) await q.dropTable(table, true)
  }
}
