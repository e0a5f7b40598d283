import { Table, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm'
import { columns } from './columns'

/**
 * Check-in answers become held answers like lottery confirmations and welcomes (see HeldAnswers): an id,
 * the window they wait in, the batch header and log note, and the batch key their outbound actions are
 * keyed under, so a crash between "sent" and "marked answered" sends nothing twice. The table is rebuilt
 * (its primary key changes) and its rows kept: an unanswered one is sent by the sweep as before.
 */
export class CheckInHeldAnswers1798940200000 implements MigrationInterface {
  name = 'CheckInHeldAnswers1798940200000'

  async up(q: QueryRunner): Promise<void> {
    const { str, int, ms, text, id } = columns(q)
    // SQLite index names are per database: the old table's go before the new table takes them.
    await q.dropIndex('qy_checkin_answer', 'idx_checkin_answer_open')
    await q.dropIndex('qy_checkin_answer', 'idx_checkin_answer_at')
    await q.query('ALTER TABLE qy_checkin_answer RENAME TO qy_checkin_answer_old')
    await q.createTable(new Table({
      name: 'qy_checkin_answer',
      columns: [
        id(), str('window_key', 191), str('bot_id', 64), str('group_id', 191), str('member_id', 191), str('message_id', 191, { isNullable: true }),
        text('single_text'), text('line_text'), text('header_text'), str('note', 200), ms('at'), str('batch_key', 100, { isNullable: true }), ms('answered_at', true),
        str('day', 10), int('streak', { type: 'integer' }),
      ],
      indices: [
        new TableIndex({ name: 'uq_checkin_answer_day', columnNames: ['group_id', 'member_id', 'day'], isUnique: true }),
        new TableIndex({ name: 'idx_checkin_answer_open', columnNames: ['answered_at', 'at'] }),
        new TableIndex({ name: 'idx_checkin_answer_at', columnNames: ['at'] }),
        new TableIndex({ name: 'idx_checkin_answer_batch', columnNames: ['batch_key'] }),
      ],
    }), true)
    // The window is the group's; an empty header is the group's rule header at send time.
    await q.query(`INSERT INTO qy_checkin_answer (window_key, bot_id, group_id, member_id, message_id, single_text, line_text, header_text, note, at, batch_key, answered_at, day, streak)
      SELECT group_id, bot_id, group_id, member_id, message_id, single_text, line_text, '', 'check-in answered', at, NULL, answered_at, day, streak FROM qy_checkin_answer_old ORDER BY at`)
    await q.dropTable('qy_checkin_answer_old')
  }

  async down(q: QueryRunner): Promise<void> {
    const { str, int, ms, text } = columns(q)
    await q.query('ALTER TABLE qy_checkin_answer RENAME TO qy_checkin_answer_new')
    for (const index of ['uq_checkin_answer_day', 'idx_checkin_answer_open', 'idx_checkin_answer_at', 'idx_checkin_answer_batch']) await q.dropIndex('qy_checkin_answer_new', index)
    await q.createTable(new Table({
      name: 'qy_checkin_answer',
      columns: [
        str('group_id', 191, { isPrimary: true }), str('member_id', 191, { isPrimary: true }), str('day', 10, { isPrimary: true }),
        str('bot_id', 191), str('message_id', 191, { isNullable: true }), int('streak', { type: 'integer' }), text('single_text'), text('line_text'), ms('at'), ms('answered_at', true),
      ],
      indices: [
        new TableIndex({ name: 'idx_checkin_answer_open', columnNames: ['answered_at', 'at'] }),
        new TableIndex({ name: 'idx_checkin_answer_at', columnNames: ['at'] }),
      ],
    }), true)
    await q.query(`INSERT INTO qy_checkin_answer (group_id, member_id, day, bot_id, message_id, streak, single_text, line_text, at, answered_at)
      SELECT group_id, member_id, day, bot_id, message_id, streak, single_text, line_text, at, answered_at FROM qy_checkin_answer_new`)
    await q.dropTable('qy_checkin_answer_new')
  }
}
