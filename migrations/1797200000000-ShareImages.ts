import { Table, TableColumn, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm'
import { columns } from './columns'

/** Content-library image uploads of scheduled shares: images (unique per owner and sha256), their bytes in chunks, posts' image_id. */
export class ShareImages1797200000000 implements MigrationInterface {
  name = 'ShareImages1797200000000'

  async up(q: QueryRunner): Promise<void> {
    const { str, int, ms, id } = columns(q)
    const integer = (name: string, extra: Parameters<typeof int>[1] = {}) => int(name, { type: 'integer', ...extra })
    await q.createTable(new Table({
      name: 'qy_share_image',
      columns: [id(), integer('owner_token_id', { isNullable: true, default: null }), str('owner_key', 32), str('sha256', 64), str('name', 100, { isNullable: true }), str('mime', 16),
        ...['bytes', 'width', 'height', 'chunks'].map((name) => ({ name, type: 'integer' })), ms('created_at')],
      indices: [new TableIndex({ name: 'uq_share_image_owner_sha', columnNames: ['owner_key', 'sha256'], isUnique: true })],
    }), true)
    await q.createTable(new Table({
      name: 'qy_share_image_chunk',
      columns: [{ name: 'image_id', type: 'integer', isPrimary: true }, { name: 'seq', type: 'integer', isPrimary: true }, { name: 'data', type: 'blob' }],
    }), true)
    if (!(await q.hasColumn('qy_share_post', 'image_id'))) {
      await q.addColumn('qy_share_post', new TableColumn({ name: 'image_id', type: 'integer', isNullable: true, default: null }))
    }
  }

  async down(q: QueryRunner): Promise<void> {
    if (await q.hasColumn('qy_share_post', 'image_id')) await q.dropColumn('qy_share_post', 'image_id')
    for (const table of ['qy_share_image_chunk', 'qy_share_image']) await q.dropTable(table, true)
  }
}
