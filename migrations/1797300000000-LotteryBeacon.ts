import { TableColumn, type MigrationInterface, type QueryRunner } from 'typeorm'
import { columns } from './columns'

/** Lottery public randomness: the drand round fixed (and announced) when a lottery closes. */
export class LotteryBeacon1797300000000 implements MigrationInterface {
  name = 'LotteryBeacon1797300000000'

  async up(q: QueryRunner): Promise<void> {
    const c = columns(q)
    await q.addColumn('qy_lottery', new TableColumn(c.int('beacon_round', { type: 'integer', isNullable: true, default: null })))
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropColumn('qy_lottery', 'beacon_round')
  }
}
