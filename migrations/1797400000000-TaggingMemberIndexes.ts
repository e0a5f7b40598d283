import { TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm'

/**
 * The member list's sort orders (last active day, joined, state since) read in index order, ties broken
 * by the member id, so first pages and keyset (cursor) pages at any depth do not sort the whole group.
 */
export class TaggingMemberIndexes1797400000000 implements MigrationInterface {
  name = 'TaggingMemberIndexes1797400000000'

  async up(q: QueryRunner): Promise<void> {
    await q.createIndex('qy_tagging_member', new TableIndex({ name: 'idx_tagging_member_last_active', columnNames: ['group_id', 'last_active_day', 'member_id'] }))
    await q.createIndex('qy_tagging_member', new TableIndex({ name: 'idx_tagging_member_joined', columnNames: ['group_id', 'joined_at', 'member_id'] }))
    await q.createIndex('qy_tagging_member', new TableIndex({ name: 'idx_tagging_member_state_at', columnNames: ['group_id', 'state_at', 'member_id'] }))
    await q.createIndex('qy_tagging_member', new TableIndex({ name: 'idx_tagging_member_score_id', columnNames: ['group_id', 'score', 'member_id'] }))
  }

  async down(q: QueryRunner): Promise<void> {
    for (const name of ['idx_tagging_member_score_id', 'idx_tagging_member_state_at', 'idx_tagging_member_joined', 'idx_tagging_member_last_active']) await q.dropIndex('qy_tagging_member', name)
  }
}
