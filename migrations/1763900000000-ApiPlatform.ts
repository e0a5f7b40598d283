import { Table, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm'
import { columns } from './columns'

/** Admin API platform: tokens (hash only), token group grants, audit log. */
export class ApiPlatform1763900000000 implements MigrationInterface {
  name = 'ApiPlatform1763900000000'

  async up(q: QueryRunner): Promise<void> {
    const { str, text, int, ms, bool, id } = columns(q)
    await q.createTable(new Table({
      name: 'qy_api_token',
      columns: [id(), str('name', 100), str('role', 16), str('token_hash', 64), str('hint', 16), bool('all_groups', false),
        str('created_by', 100, { isNullable: true }), ms('created_at'), ms('last_used_at', true), ms('revoked_at', true)],
      indices: [new TableIndex({ name: 'uq_api_token_hash', columnNames: ['token_hash'], isUnique: true })],
    }), true)
    await q.createTable(new Table({
      name: 'qy_token_group',
      columns: [{ name: 'token_id', type: 'integer', isPrimary: true }, str('group_id', 191, { isPrimary: true })],
      indices: [new TableIndex({ name: 'idx_token_group_group', columnNames: ['group_id'] })],
    }), true)
    await q.createTable(new Table({
      name: 'qy_audit',
      columns: [id(), ms('at'), int('token_id', { isNullable: true, default: null }), str('token_name', 100, { isNullable: true }), str('role', 16),
        str('method', 8), str('route', 200), str('path', 500), str('group_id', 191, { isNullable: true }), int('status'),
        str('request_id', 64), text('summary', true)],
      indices: [
        new TableIndex({ name: 'idx_audit_at', columnNames: ['at'] }),
        new TableIndex({ name: 'idx_audit_group_at', columnNames: ['group_id', 'at'] }),
      ],
    }), true)
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['qy_audit', 'qy_token_group', 'qy_api_token']) await q.dropTable(table, true)
  }
}
