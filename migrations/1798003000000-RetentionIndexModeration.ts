import { TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm'

/** An index on the time of moderation events: the retention purge reads its batches by range (`at < boundary`), not by scanning. */
export class RetentionIndexModeration1798003000000 implements MigrationInterface {
  name = 'RetentionIndexModeration1798003000000'

  async up(q: QueryRunner): Promise<void> {
    await q.createIndex('qy_moderation_event', new TableIndex({ name: 'idx_moderation_event_at', columnNames: ['at'] }))
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropIndex('qy_moderation_event', 'idx_moderation_event_at')
  }
}
