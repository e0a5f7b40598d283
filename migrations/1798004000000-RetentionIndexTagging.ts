import { TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm'

/** An index on the time of tagging history: the retention purge reads its batches by range (`at < boundary`), not by scanning. */
export class RetentionIndexTagging1798004000000 implements MigrationInterface {
  name = 'RetentionIndexTagging1798004000000'

  async up(q: QueryRunner): Promise<void> {
    await q.createIndex('qy_tagging_history', new TableIndex({ name: 'idx_tagging_history_at', columnNames: ['at'] }))
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropIndex('qy_tagging_history', 'idx_tagging_history_at')
  }
}
