import { TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm'

/** An index on the time of group events: the retention purge reads its batches by range (`at < boundary`), not by scanning. */
export class RetentionIndexGroups1798002000000 implements MigrationInterface {
  name = 'RetentionIndexGroups1798002000000'

  async up(q: QueryRunner): Promise<void> {
    await q.createIndex('qy_group_event', new TableIndex({ name: 'idx_group_event_at', columnNames: ['at'] }))
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropIndex('qy_group_event', 'idx_group_event_at')
  }
}
