import { Table, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm'
import { columns } from './columns'

/** Scheduled topic shares: the owners' content library, schedules, one row per send (unique per run and group), engagement windows. */
export class ScheduledShare1796500000000 implements MigrationInterface {
  name = 'ScheduledShare1796500000000'

  async up(q: QueryRunner): Promise<void> {
    const { str, text, int, ms, bool, id } = columns(q)
    const integer = (name: string, extra: Parameters<typeof int>[1] = {}) => int(name, { type: 'integer', ...extra })
    await q.createTable(new Table({
      name: 'qy_share_post',
      columns: [id(), integer('owner_token_id', { isNullable: true, default: null }), str('title', 100), text('text'), str('image_url', 1000, { isNullable: true }),
        text('card', true), text('tags'), str('expires_on', 10, { isNullable: true }), ms('created_at'), ms('updated_at')],
      indices: [new TableIndex({ name: 'idx_share_post_owner', columnNames: ['owner_token_id'] })],
    }), true)
    await q.createTable(new Table({
      name: 'qy_share_schedule',
      columns: [id(), integer('owner_token_id', { isNullable: true, default: null }), str('name', 100), { ...bool('enabled'), default: 1 },
        text('trigger_def'), str('timezone', 64, { isNullable: true }), text('target'), text('content'),
        integer('no_repeat_days'), integer('stagger_seconds', { default: 300 }), integer('grace_minutes', { default: 10 }),
        ms('cursor_at'), integer('version', { default: 1 }), ms('created_at'), ms('updated_at')],
      indices: [new TableIndex({ name: 'idx_share_schedule_owner', columnNames: ['owner_token_id'] })],
    }), true)
    await q.createTable(new Table({
      name: 'qy_share_send',
      columns: [id(), { name: 'schedule_id', type: 'integer' }, str('group_id', 191), str('bot_id', 191, { isNullable: true }), str('fire_key', 40), str('timezone', 64),
        ms('fire_at'), ms('slot_at'), integer('post_id', { isNullable: true, default: null }), str('status', 16), str('reason', 200, { isNullable: true }),
        ms('created_at'), ms('queued_at', true), ms('finished_at', true)],
      indices: [
        new TableIndex({ name: 'uq_share_send_run', columnNames: ['schedule_id', 'group_id', 'fire_key'], isUnique: true }),
        new TableIndex({ name: 'idx_share_send_due', columnNames: ['status', 'slot_at'] }),
        new TableIndex({ name: 'idx_share_send_group_post', columnNames: ['group_id', 'post_id'] }),
        new TableIndex({ name: 'idx_share_send_schedule', columnNames: ['schedule_id', 'id'] }),
      ],
    }), true)
    await q.createTable(new Table({
      name: 'qy_share_window',
      columns: [{ name: 'send_id', type: 'integer', isPrimary: true }, { name: 'schedule_id', type: 'integer' }, str('group_id', 191), str('kind', 8), ms('start_at'), ms('end_at'), integer('messages')],
      indices: [
        new TableIndex({ name: 'idx_share_window_schedule', columnNames: ['schedule_id'] }),
        new TableIndex({ name: 'idx_share_window_end', columnNames: ['end_at'] }),
      ],
    }), true)
    await q.createTable(new Table({
      name: 'qy_share_window_member',
      columns: [{ name: 'send_id', type: 'integer', isPrimary: true }, str('member_id', 191, { isPrimary: true })],
    }), true)
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['qy_share_window_member', 'qy_share_window', 'qy_share_send', 'qy_share_schedule', 'qy_share_post']) await q.dropTable(table, true)
  }
}
