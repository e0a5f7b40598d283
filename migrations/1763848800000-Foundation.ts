import { Table, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm'
import { columns } from './columns'

/** The foundation schema: core tables (dedupe, outbound, job fences, group rules), groups and activity. */
export class Foundation1763848800000 implements MigrationInterface {
  name = 'Foundation1763848800000'

  async up(q: QueryRunner): Promise<void> {
    const { str, text, int, ms, bool, id } = columns(q)
    await q.createTable(new Table({
      name: 'qy_seen_message',
      columns: [str('id', 191, { isPrimary: true }), ms('expires_at')],
      indices: [new TableIndex({ name: 'idx_seen_expires', columnNames: ['expires_at'] })],
    }), true)
    await q.createTable(new Table({
      name: 'qy_outbound',
      columns: [id(), str('bot_id', 64), str('group_id', 191, { isNullable: true }), str('kind', 32), text('payload'),
        str('status', 16), int('attempts'), str('error', 500, { isNullable: true }), ms('queued_at'), ms('finished_at', true)],
      indices: [new TableIndex({ name: 'idx_outbound_bot_status', columnNames: ['bot_id', 'status'] })],
    }), true)
    await q.createTable(new Table({
      name: 'qy_job_run',
      columns: [str('job', 100, { isPrimary: true }), { name: 'fire_time', type: 'bigint', isPrimary: true }, str('owner', 100),
        str('status', 16), ms('started_at'), ms('finished_at', true), str('error', 500, { isNullable: true })],
    }), true)
    await q.createTable(new Table({
      name: 'qy_group_rule',
      columns: [str('group_id', 191, { isPrimary: true }), str('feature', 64, { isPrimary: true }), text('value'), int('version'), ms('updated_at')],
    }), true)
    await q.createTable(new Table({
      name: 'qy_group',
      columns: [str('id', 191, { isPrimary: true }), str('bot_id', 64), str('name', 255), str('owner_id', 191, { isNullable: true }),
        str('timezone', 64), text('labels'), int('member_count'), bool('active'), ms('joined_at'), ms('left_at', true), ms('updated_at')],
      indices: [new TableIndex({ name: 'idx_group_bot', columnNames: ['bot_id'] })],
    }), true)
    await q.createTable(new Table({
      name: 'qy_member',
      columns: [str('group_id', 191, { isPrimary: true }), str('member_id', 191, { isPrimary: true }), str('name', 255), str('role', 16),
        ms('joined_at', true), str('inviter_id', 191, { isNullable: true }), bool('active'), ms('left_at', true)],
      indices: [new TableIndex({ name: 'idx_member_group_active', columnNames: ['group_id', 'active'] })],
    }), true)
    await q.createTable(new Table({
      name: 'qy_group_event',
      columns: [id(), str('group_id', 191, { isNullable: true }), str('kind', 32), str('member_id', 191, { isNullable: true }),
        str('actor_id', 191, { isNullable: true }), text('detail', true), ms('at')],
      indices: [new TableIndex({ name: 'idx_group_event_group_at', columnNames: ['group_id', 'at'] })],
    }), true)
    await q.createTable(new Table({
      name: 'qy_activity_daily',
      columns: [str('group_id', 191, { isPrimary: true }), str('member_id', 191, { isPrimary: true }), str('day', 10, { isPrimary: true }),
        int('messages'), int('chars'), int('text_count'), int('media_count'), int('card_count'), int('other_count')],
      indices: [new TableIndex({ name: 'idx_activity_daily_group_day', columnNames: ['group_id', 'day'] })],
    }), true)
    await q.createTable(new Table({
      name: 'qy_activity_hourly',
      columns: [str('group_id', 191, { isPrimary: true }), str('day', 10, { isPrimary: true }), { name: 'hour', type: 'int', isPrimary: true }, int('messages')],
    }), true)
    await q.createTable(new Table({
      name: 'qy_message_log',
      columns: [str('id', 191, { isPrimary: true }), str('group_id', 191), str('sender_id', 191), str('type', 16), text('text', true), ms('at')],
      indices: [
        new TableIndex({ name: 'idx_message_log_group_at', columnNames: ['group_id', 'at'] }),
        new TableIndex({ name: 'idx_message_log_at', columnNames: ['at'] }),
      ],
    }), true)
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['qy_message_log', 'qy_activity_hourly', 'qy_activity_daily', 'qy_group_event', 'qy_member', 'qy_group',
      'qy_group_rule', 'qy_job_run', 'qy_outbound', 'qy_seen_message']) {
      await q.dropTable(table, true)
    }
  }
}
