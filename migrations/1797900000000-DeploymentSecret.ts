import { Table, type MigrationInterface, type QueryRunner } from 'typeorm'
import { columns } from './columns'

/** Deployment secrets generated at first start (the member pseudonym key), shared by every replica. */
export class DeploymentSecret1797900000000 implements MigrationInterface {
  name = 'DeploymentSecret1797900000000'

  async up(q: QueryRunner): Promise<void> {
    const c = columns(q)
    await q.createTable(new Table({
      name: 'qy_deployment_secret',
      columns: [c.str('name', 64, { isPrimary: true }), c.str('value', 128), c.ms('created_at')],
    }))
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('qy_deployment_secret')
  }
}
