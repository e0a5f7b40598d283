import { TableColumn, type MigrationInterface, type QueryRunner } from 'typeorm'
import { columns } from './columns'

/** Moderation events an owner marked as false positives (when; null = not reversed). */
export class ModerationFalsePositive1797600000100 implements MigrationInterface {
  name = 'ModerationFalsePositive1797600000100'

  async up(q: QueryRunner): Promise<void> {
    const { ms } = columns(q)
    await q.addColumn('qy_moderation_event', new TableColumn(ms('false_positive_at', true)))
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropColumn('qy_moderation_event', 'false_positive_at')
  }
}
