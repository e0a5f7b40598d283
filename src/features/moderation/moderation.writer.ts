import type { EntityManager } from 'typeorm'
import type { RuleWriter } from '../../app/rules'
import type { Clock } from '../../ports/clock'
import { ModerationVersionEntity } from './moderation.entity'
import type { WordLists } from './moderation.lists'
import type { ModerationRule } from './moderation.rules'

/** The newest moderation version of a group (0 when it has none), read through a data source or a transaction. */
export async function latestVersion(db: Pick<EntityManager, 'query'>, groupId: string): Promise<number> {
  const rows: Array<{ v: number | string | null }> = await db.query('SELECT MAX(version) AS v FROM qy_moderation_version WHERE group_id = ?', [groupId])
  return Number(rows[0]?.v ?? 0)
}

/**
 * Moderation's hooks on the one write path of its rules (RuleStore.set), used by its own routes, the
 * generic rules route, rollbacks and rehearsals alike: named word lists must exist and be the caller's
 * to use (lists the group already has may stay), and every accepted change becomes a numbered version
 * (history, diff, rollback).
 */
export function moderationWriter(deps: { lists: WordLists; clock: Clock }): RuleWriter {
  return {
    async check(_groupId, value, before, change) {
      const kept = new Set((before as ModerationRule).words.lists)
      return deps.lists.problems((value as ModerationRule).words.lists, change.by, kept)
    },
    async record(m, groupId, value, change) {
      const version = (await latestVersion(m, groupId)) + 1
      await m.getRepository(ModerationVersionEntity).insert({
        groupId, version, rules: value as ModerationRule, author: change.by ? `${change.by.role}:${change.by.tokenId}` : null, note: change.note ?? null, at: deps.clock.now(),
      })
      return version
    },
  }
}
