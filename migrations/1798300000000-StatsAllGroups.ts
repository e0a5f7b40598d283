import { Table, type MigrationInterface, type QueryRunner } from 'typeorm'
import { columns } from './columns'

const DAY_COLUMNS = ['messages', 'text_count', 'media_count', 'card_count', 'other_count', 'active', 'joins', 'leaves', 'checkins', 'autoreply_hits', 'moderation_hits', 'moderation_actions']

/**
 * Stats: rollups across all groups — per local day (the group-day counters summed) and per local day and
 * hour (messages and speakers summed) — so reports across every group read one row per day or hour instead
 * of one per group. Filled from the existing group rows. And reach rows (src/features/stats/stats.reach.ts)
 * for distinct members over any range: per group, summed over all groups, and each pair's last active day.
 * All filled from the member-day rows (window function LAG: SQLite ≥ 3.25, MariaDB ≥ 10.2).
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
    await q.createTable(new Table({
      name: 'qy_stats_group_reach',
      columns: [str('group_id', 191, { isPrimary: true }), str('day', 10, { isPrimary: true }), str('prev_day', 10, { isPrimary: true }), n('n')],
    }), true)
    await q.createTable(new Table({
      name: 'qy_stats_all_reach',
      columns: [str('day', 10, { isPrimary: true }), str('prev_day', 10, { isPrimary: true }), n('n')],
    }), true)
    await q.createTable(new Table({
      name: 'qy_stats_pair_last',
      columns: [str('group_id', 191, { isPrimary: true }), str('member_id', 191, { isPrimary: true }), str('last_day', 10)],
    }), true)
    await q.query(`INSERT INTO qy_stats_all_day (day, ${DAY_COLUMNS.join(', ')}) SELECT day, ${DAY_COLUMNS.map((c) => `SUM(${c})`).join(', ')} FROM qy_stats_group_day GROUP BY day`)
    await q.query(`INSERT INTO qy_stats_group_reach (group_id, day, prev_day, n)
      SELECT group_id, day, prev_day, COUNT(*) FROM (SELECT group_id, day, COALESCE(LAG(day) OVER (PARTITION BY group_id, member_id ORDER BY day), '') AS prev_day FROM qy_stats_member_day WHERE messages > 0) x
      GROUP BY group_id, day, prev_day`)
    await q.query('INSERT INTO qy_stats_all_reach (day, prev_day, n) SELECT day, prev_day, SUM(n) FROM qy_stats_group_reach GROUP BY day, prev_day')
    await q.query('INSERT INTO qy_stats_pair_last (group_id, member_id, last_day) SELECT group_id, member_id, MAX(day) FROM qy_stats_member_day WHERE messages > 0 GROUP BY group_id, member_id')
    await q.query('INSERT INTO qy_stats_all_hour (day, hour, weekday, messages, speakers) SELECT day, hour, MIN(weekday), SUM(messages), SUM(speakers) FROM qy_stats_group_hour GROUP BY day, hour')
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['qy_stats_pair_last', 'qy_stats_all_reach', 'qy_stats_group_reach', 'qy_stats_all_hour', 'qy_stats_all_day']) await q.dropTable(table, true)
  }
}
