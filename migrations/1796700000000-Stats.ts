import { Table, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm'
import { columns } from './columns'

/** Read models of the stats feature: group-day, group-hour, member-day, member-month, inviter-day, member-hour, members, rule-day, processed events. */
export class Stats1796700000000 implements MigrationInterface {
  name = 'Stats1796700000000'

  async up(q: QueryRunner): Promise<void> {
    const { str, int, ms } = columns(q)
    const n = (name: string): ReturnType<typeof int> => int(name, { type: 'integer' })
    const key = (name: string, length: number): ReturnType<typeof str> => str(name, length, { isPrimary: true })
    await q.createTable(new Table({
      name: 'qy_stats_group_day',
      columns: [key('group_id', 191), key('day', 10), n('messages'), n('text_count'), n('media_count'), n('card_count'), n('other_count'), n('active'),
        n('joins'), n('leaves'), n('checkins'), n('autoreply_hits'), n('moderation_hits'), n('moderation_actions')],
      // Covering: reports across all groups read a day range of every group from the index alone (the table is small).
      indices: [new TableIndex({ name: 'idx_stats_group_day_day', columnNames: ['day', 'group_id', 'messages', 'text_count', 'media_count', 'card_count', 'other_count', 'active', 'joins', 'leaves', 'checkins', 'autoreply_hits', 'moderation_hits', 'moderation_actions'] })],
    }), true)
    await q.createTable(new Table({
      name: 'qy_stats_group_hour',
      columns: [key('group_id', 191), key('day', 10), { name: 'hour', type: 'integer', isPrimary: true }, { name: 'weekday', type: 'integer' }, n('messages'), n('speakers')],
      // Reports across all groups read a day range of every group without touching the table.
      indices: [new TableIndex({ name: 'idx_stats_group_hour_day', columnNames: ['day', 'hour', 'weekday', 'messages', 'speakers'] })],
    }), true)
    await q.createTable(new Table({
      name: 'qy_stats_member_day',
      columns: [key('group_id', 191), key('day', 10), key('member_id', 191), str('week', 10), n('messages'), n('checkins'), n('streak')],
      indices: [
        new TableIndex({ name: 'idx_stats_member_day_member', columnNames: ['group_id', 'member_id', 'day'] }),
        // Top members read a range of days without touching the table.
        new TableIndex({ name: 'idx_stats_member_day_cover', columnNames: ['group_id', 'day', 'member_id', 'messages', 'checkins', 'streak'] }),
      ],
    }), true)
    await q.createTable(new Table({
      name: 'qy_stats_member_month',
      columns: [key('group_id', 191), key('month', 7), key('member_id', 191), n('days')],
      indices: [
        new TableIndex({ name: 'idx_stats_member_month_group', columnNames: ['group_id', 'month', 'member_id', 'days'] }),
        new TableIndex({ name: 'idx_stats_member_month_month', columnNames: ['month', 'group_id', 'member_id', 'days'] }),
      ],
    }), true)
    await q.createTable(new Table({
      name: 'qy_stats_inviter_day',
      columns: [key('group_id', 191), key('day', 10), key('member_id', 191), n('invites')],
    }), true)
    await q.createTable(new Table({
      name: 'qy_stats_member_hour',
      columns: [key('group_id', 191), key('day', 10), { name: 'hour', type: 'integer', isPrimary: true }, key('member_id', 191)],
    }), true)
    await q.createTable(new Table({
      name: 'qy_stats_member',
      columns: [key('group_id', 191), key('member_id', 191), str('joined_day', 10), str('joined_week', 10), str('left_day', 10, { isNullable: true })],
      indices: [new TableIndex({ name: 'idx_stats_member_cohort', columnNames: ['group_id', 'joined_week'] })],
    }), true)
    await q.createTable(new Table({
      name: 'qy_stats_rule_day',
      columns: [key('group_id', 191), key('day', 10), key('kind', 16), key('rule', 64), n('hits'), n('actions')],
    }), true)
    await q.createTable(new Table({
      name: 'qy_stats_event',
      columns: [key('id', 191), ms('at')],
      indices: [new TableIndex({ name: 'idx_stats_event_at', columnNames: ['at'] })],
    }), true)
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['qy_stats_event', 'qy_stats_rule_day', 'qy_stats_member', 'qy_stats_member_hour', 'qy_stats_inviter_day', 'qy_stats_member_month', 'qy_stats_member_day', 'qy_stats_group_hour', 'qy_stats_group_day']) await q.dropTable(table, true)
  }
}
