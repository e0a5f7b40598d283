import { Table, type MigrationInterface, type QueryRunner } from 'typeorm'
import { columns } from './columns'

/**
 * One version history for every feature's rules (qy_rule_version), replacing moderation's own table:
 * its versions are copied over as they are (same numbers, authors, notes, times), then it is dropped.
 */
export class RuleVersions1796200000000 implements MigrationInterface {
  name = 'RuleVersions1796200000000'

  async up(q: QueryRunner): Promise<void> {
    const { str, text, ms } = columns(q)
    await q.createTable(new Table({
      name: 'qy_rule_version',
      columns: [str('group_id', 191, { isPrimary: true }), str('feature', 64, { isPrimary: true }), { name: 'version', type: 'integer', isPrimary: true },
        text('value'), str('author', 100, { isNullable: true }), str('note', 200, { isNullable: true }), ms('at')],
    }), true)
    if (await q.hasTable('qy_moderation_version')) {
      await q.query("INSERT INTO qy_rule_version (group_id, feature, version, value, author, note, at) SELECT group_id, 'moderation', version, rules, author, note, at FROM qy_moderation_version")
      await q.dropTable('qy_moderation_version', true)
    }
  }

  async down(q: QueryRunner): Promise<void> {
    const { str, text, ms } = columns(q)
    await q.createTable(new Table({
      name: 'qy_moderation_version',
      columns: [str('group_id', 191, { isPrimary: true }), { name: 'version', type: 'integer', isPrimary: true }, text('rules'),
        str('author', 100, { isNullable: true }), str('note', 200, { isNullable: true }), ms('at')],
    }), true)
    await q.query("INSERT INTO qy_moderation_version (group_id, version, rules, author, note, at) SELECT group_id, version, value, author, note, at FROM qy_rule_version WHERE feature = 'moderation'")
    await q.dropTable('qy_rule_version', true)
  }
}
