import { TableColumn, type MigrationInterface, type QueryRunner } from 'typeorm'
import { columns } from './columns'

/**
 * Activity: the message log records how the pipeline handled each message — the feature that consumed it
 * (`handled_by`: check-in, lottery, moderation, auto-reply; null when none did) and whether an auto-reply
 * rule answered it — so the stats rebuild can tell commands from content and count auto-reply answers.
 */
export class MessageLogHandled1798400100000 implements MigrationInterface {
  name = 'MessageLogHandled1798400100000'

  async up(q: QueryRunner): Promise<void> {
    const { str, int } = columns(q)
    await q.addColumn('qy_message_log', new TableColumn(str('handled_by', 32, { isNullable: true })))
    await q.addColumn('qy_message_log', new TableColumn(int('auto_answered', { type: 'integer' })))
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropColumn('qy_message_log', 'auto_answered')
    await q.dropColumn('qy_message_log', 'handled_by')
  }
}
