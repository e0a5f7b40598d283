import { TableColumn, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm'
import { columns } from './columns'

/** Several replicas: each pending outbound action carries a claim (owner + expiry), taken over when it expires. */
export class OutboundClaims1797000000000 implements MigrationInterface {
  name = 'OutboundClaims1797000000000'

  async up(q: QueryRunner): Promise<void> {
    const c = columns(q)
    await q.addColumns('qy_outbound', [
      new TableColumn(c.str('claim_owner', 100, { isNullable: true })),
      new TableColumn(c.ms('claim_until', true)),
    ])
    await q.createIndex('qy_outbound', new TableIndex({ name: 'idx_outbound_claim', columnNames: ['claim_owner', 'status'] }))
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropIndex('qy_outbound', 'idx_outbound_claim')
    await q.dropColumn('qy_outbound', 'claim_until')
    await q.dropColumn('qy_outbound', 'claim_owner')
  }
}
