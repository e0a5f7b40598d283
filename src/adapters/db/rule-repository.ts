import { Brackets, type DataSource } from 'typeorm'
import type { RuleRepository, RuleVersion } from '../../kernel/rules'
import { GroupRuleEntity, RuleVersionEntity } from './core.entity'
import { isDuplicate } from './errors'
import { withTransaction } from './transaction'

/** How often a write retries when another replica took the same version number at the same moment. */
const VERSION_RACE_RETRIES = 5

/** Rules in the database: current slices in qy_group_rule, every version in qy_rule_version. */
export class DbRuleRepository implements RuleRepository {
  constructor(private readonly db: DataSource) {}

  async current(groupId: string): Promise<Array<{ feature: string; value: unknown; version: number }>> {
    const rows = await this.db.getRepository(GroupRuleEntity).findBy({ groupId })
    return rows.map((r) => ({ feature: r.feature, value: r.value, version: r.version }))
  }

  async write(input: { groupId: string; feature: string; value: unknown; author: string | null; note: string | null; at: number }): Promise<number> {
    const { groupId, feature, value, author, note, at } = input
    for (let attempt = 1; ; attempt++) {
      try {
        return await withTransaction(this.db, async (m) => {
          const rows: Array<{ v: number | string | null }> = await m.query('SELECT MAX(version) AS v FROM qy_rule_version WHERE group_id = ? AND feature = ?', [groupId, feature])
          const current = await m.getRepository(GroupRuleEntity).findOneBy({ groupId, feature })
          // Version numbers continue whatever came first: older slices were counted in qy_group_rule only.
          const version = Math.max(Number(rows[0]?.v ?? 0), current?.version ?? 0) + 1
          await m.getRepository(RuleVersionEntity).insert({ groupId, feature, version, value: value as object, author, note, at })
          await m.getRepository(GroupRuleEntity).save({ groupId, feature, value: value as object, version, updatedAt: at })
          return version
        })
      } catch (error) {
        // Two replicas wrote the same slice at once: the loser's primary key clashed; number it again.
        if (!isDuplicate(error) || attempt >= VERSION_RACE_RETRIES) throw error
      }
    }
  }

  async versions(groupId: string, feature: string, limit: number): Promise<RuleVersion[]> {
    const rows = await this.db.getRepository(RuleVersionEntity).find({ where: { groupId, feature }, order: { version: 'DESC' }, take: limit })
    return rows.map(toVersion)
  }

  async version(groupId: string, feature: string, version: number): Promise<RuleVersion | null> {
    const row = await this.db.getRepository(RuleVersionEntity).findOneBy({ groupId, feature, version })
    return row ? toVersion(row) : null
  }

  async containing(needle: string, groupIds: readonly string[] | undefined, after: { groupId: string; feature: string } | null, limit: number): Promise<Array<{ groupId: string; feature: string; value: unknown }>> {
    if (groupIds && groupIds.length === 0) return []
    const q = this.db.getRepository(GroupRuleEntity).createQueryBuilder('r')
      .where("r.value LIKE :like ESCAPE '!'", { like: `%${needle.replace(/[!%_]/g, '!$&')}%` })
    if (groupIds) q.andWhere('r.groupId IN (:...groupIds)', { groupIds: [...groupIds] })
    if (after) q.andWhere(new Brackets((w) => { w.where('r.groupId > :ag', { ag: after.groupId }).orWhere('r.groupId = :ag2 AND r.feature > :af', { ag2: after.groupId, af: after.feature }) }))
    const rows = await q.orderBy('r.groupId', 'ASC').addOrderBy('r.feature', 'ASC').take(limit).getMany()
    return rows.map((r) => ({ groupId: r.groupId, feature: r.feature, value: r.value }))
  }
}

function toVersion(r: RuleVersionEntity): RuleVersion {
  return { version: r.version, value: r.value, author: r.author, note: r.note, at: r.at }
}
