import { TableColumn, type MigrationInterface, type QueryRunner } from 'typeorm'
import { columns } from './columns'

/**
 * How a lottery names entrants in its entrant hash and proof ('pseudonym' or 'member-id'), stored at close
 * so views need not hash every entrant. Lotteries closed before this are left null: the service finds out
 * their mode once from the published hash (it needs the deployment's pseudonym key) and stores it.
 */
export class LotteryDrawIds1798700000000 implements MigrationInterface {
  name = 'LotteryDrawIds1798700000000'

  async up(q: QueryRunner): Promise<void> {
    const c = columns(q)
    await q.addColumn('qy_lottery', new TableColumn(c.str('draw_ids', 16, { isNullable: true, default: null })))
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropColumn('qy_lottery', 'draw_ids')
  }
}
