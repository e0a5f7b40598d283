import { Table, type MigrationInterface, type QueryRunner } from 'typeorm'
import { columns } from './columns'

const DAY_COLUMNS = ['messages', 'text_count', 'media_count', 'card_count', 'other_count', 'active', 'joins', 'leaves', 'checkins', 'autoreply_hits', 'moderation_hits', 'moderation_actions']

/**
 * Stats: running totals per group (src/features/stats/stats.running.ts) — for every group-day row the
 * group's counters summed up to that day — and per member (stats.member-running.ts: messages, active days,
 * check-ins up to each member-day), so totals over any range are two rows per group or member. Filled from
 * the existing group-day and member-day rows (window sums: SQLite ≥ 3.25, MariaDB ≥ 10.2).
 */
export class StatsRunningTotals1798930000000 implements MigrationInterface {
  name = 'StatsRunningTotals1798930000000'

  async up(q: QueryRunner): Promise<void> {
    const { str, int } = columns(q)
    const n = (name: string): ReturnType<typeof int> => int(name, { type: 'integer' })
    await q.createTable(new Table({
      name: 'qy_stats_group_running',
      columns: [str('group_id', 191, { isPrimary: true }), str('day', 10, { isPrimary: true }), ...DAY_COLUMNS.map(n)],
    }), true)
    await q.createTable(new Table({
      name: 'qy_stats_member_running',
      columns: [str('group_id', 191, { isPrimary: true }), str('member_id', 191, { isPrimary: true }), str('day', 10, { isPrimary: true }), n('messages'), n('active_days'), n('checkins')],
    }), true)
    await q.query(`INSERT INTO qy_stats_member_running (group_id, member_id, day, messages, active_days, checkins)
      SELECT group_id, member_id, day, ${['SUM(messages)', 'COUNT(*)', 'SUM(checkins)'].map((x) => `${x} OVER (PARTITION BY group_id, member_id ORDER BY day ROWS UNBOUNDED PRECEDING)`).join(', ')} FROM qy_stats_member_day`)
    await q.query(`INSERT INTO qy_stats_group_running (group_id, day, ${DAY_COLUMNS.join(', ')})
      SELECT group_id, day, ${DAY_COLUMNS.map((c) => `SUM(${c}) OVER (PARTITION BY group_id ORDER BY day ROWS UNBOUNDED PRECEDING)`).join(', ')} FROM qy_stats_group_day`)
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('qy_stats_member_running', true)
    await q.dropTable('qy_stats_group_running', true)
  }
}
