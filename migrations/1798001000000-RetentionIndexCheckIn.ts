import { TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm'

/** An index on the time of check-in answers: the retention purge reads its batches by range (`at < boundary`), not by scanning. */
export class RetentionIndexCheckIn1798001000000 implements MigrationInterface {
  name = 'RetentionIndexCheckIn1798001000000'

  async up(q: QueryRunner): Promise<void> {
    await q.createIndex('qy_checkin_answer', new TableIndex({ name: 'idx_checkin_answer_at', columnNames: ['at'] }))
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropIndex('qy_checkin_answer', 'idx_checkin_answer_at')
  }
}
