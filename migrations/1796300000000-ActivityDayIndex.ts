import { TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm'

/** Reading one day's rows across all groups (daily recomputes: lifecycle tags, scores) without a scan. */
export class ActivityDayIndex1796300000000 implements MigrationInterface {
  name = 'ActivityDayIndex1796300000000'

  async up(q: QueryRunner): Promise<void> {
    await q.createIndex('qy_activity_daily', new TableIndex({ name: 'idx_activity_daily_day', columnNames: ['day', 'group_id', 'member_id'] }))
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropIndex('qy_activity_daily', 'idx_activity_daily_day')
  }
}
