import { Table, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm'
import { columns } from './columns'

/**
 * Retention per data class (issue 19): owners' policies, the record of purge runs, and an index on the
 * outbound log's queue time so the delivery-log purge reads its batches by range, not by scanning.
 * (Features' tables get their time indexes in their own migrations, RetentionIndex*.)
 */
export class Retention1798000000000 implements MigrationInterface {
  name = 'Retention1798000000000'

  async up(q: QueryRunner): Promise<void> {
    const { str, int, ms, text, id } = columns(q)
    await q.createTable(new Table({
      name: 'qy_retention_policy',
      columns: [
        int('owner_token_id', { type: 'integer', isPrimary: true, default: undefined }), str('data_class', 32, { isPrimary: true }), str('level', 8, { isPrimary: true }),
        int('days', { type: 'integer', default: undefined }), ms('updated_at'), int('updated_by', { type: 'integer', isNullable: true, default: undefined }),
      ],
    }), true)
    await q.createTable(new Table({
      name: 'qy_retention_run',
      columns: [
        id(), str('data_class', 32), str('source', 16), { name: 'dry_run', type: 'boolean', default: 0 }, str('status', 16),
        int('deleted', { type: 'integer' }), int('cleared', { type: 'integer' }), int('batches', { type: 'integer' }), text('detail'), str('error', 500, { isNullable: true }), ms('started_at'), ms('finished_at'),
      ],
      indices: [new TableIndex({ name: 'idx_retention_run_class', columnNames: ['data_class', 'started_at'] })],
    }), true)
    await q.createIndex('qy_outbound', new TableIndex({ name: 'idx_outbound_queued', columnNames: ['queued_at'] }))
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropIndex('qy_outbound', 'idx_outbound_queued')
    await q.dropTable('qy_retention_run', true)
    await q.dropTable('qy_retention_policy', true)
  }
}
