import { Table, type MigrationInterface, type QueryRunner } from 'typeorm'
import { columns } from './columns'

const DAY_COLUMNS = ['messages', 'text_count', 'media_count', 'card_count', 'other_count', 'active', 'joins', 'leaves', 'checkins', 'autoreply_hits', 'moderation_hits', 'moderation_actions']

/**
 * Stats: rollups across all groups — per local day (the group-day counters summed) and per local day and
 * hour (messages and speakers summed) — so reports across every group read one row per day or hour instead
 * of one per group. Filled from the existing group rows.
 */
export class StatsAllGroups1798300000000 implements MigrationInterface {
  name = 'StatsAllGroups1798300000000'

  async up(q: QueryRunner): Promise<void> {
    const { str, int } = columns(q)
    const n = (name: string): ReturnType<typeof int> => int(name, { type: 'integer' })
    await q.createTable(new Table({
      name: 'qy_stats_all_day',
      columns: [str('day', 10, { isPrimary: true }), ...DAY_COLUMNS.map(n)],
    }), true)
    await q.createTable(new Table({
      name: 'qy_stats_all_hour',
      columns: [str('day', 10, { isPrimary: true }), { name: 'hour', type: 'integer', isPrimary: true }, { name: 'weekday', type: 'integer' }, n('messages'), n('speakers')],
    }), true)
    await q.query(`INSERT INTO qy_stats_all_day (day, ${DAY_COLUMNS.join(', ')}) SELECT day, ${DAY_COLUMNS.map((c) => `SUM(${c})`).join(', ')} FROM qy_stats_group_day GROUP BY day`)
    await q.query('INSERT INTO qy_stats_all_hour (day, hour, weekday, messages, speakers) SELECT day, hour, MIN(weekday), SUM(messages), SUM(speakers) FROM qy_stats_group_hour GROUP BY day, hour')
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['qy_stats_all_hour', 'qy_stats_all_day']) await q.dropTable(table, true)
  }
}
