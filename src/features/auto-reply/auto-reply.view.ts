import type { FeatureTables } from '../../adapters/db/feature-store'
import type { Principal } from '../../kernel/auth'
import { HttpError } from '../../kernel/routes'
import type { AutoReplyRuleEntity } from './auto-reply.entity'
import type { AutoReplyRule } from './auto-reply.rules'
import { toLive } from './auto-reply.store'

/** Auto-reply rules are owned by the token that created them (admins' rules: by no one, visible to admins). */
export const RULE = { kind: 'auto-reply rule' }
/** Access of the routes reading the caller's own rules (admins: all). */
export const OWNERS = { roles: ['admin', 'owner'] as const, mutates: false, owned: RULE }

/** A rule as the API shows it. */
export function view(row: AutoReplyRuleEntity): Record<string, unknown> {
  const live = toLive(row)
  return {
    id: row.id, ownerTokenId: row.ownerTokenId, position: row.position, version: row.version,
    createdAt: new Date(row.createdAt).toISOString(), updatedAt: new Date(row.updatedAt).toISOString(),
    name: live.name, enabled: live.enabled, trigger: live.trigger, scope: live.scope, conditions: live.conditions,
    cooldown: live.cooldown, alsoContinue: live.alsoContinue, answer: live.answer,
  }
}

/** Refuses group ids outside an owner's groups (same words for other owners' and non-existent groups). */
export function checkScope(rule: Pick<AutoReplyRule, 'scope'>, auth: Principal | null, path: string): void {
  if (!auth || auth.scope.all || rule.scope.type !== 'groups') return
  const outside = rule.scope.groupIds.filter((g) => !auth.scope.has(g))
  if (outside.length > 0) throw new HttpError(400, 'invalid_input', 'not one of your groups', outside.map((g) => ({ path: `${path}scope.groupIds`, message: `${g}: not one of your groups` })))
}

/** The position after every existing rule (new and imported rules go last). */
export async function nextPosition(db: FeatureTables): Promise<number> {
  const rows: Array<{ p: number | string | null }> = await db.query('SELECT MAX(position) AS p FROM qy_auto_reply_rule')
  return Number(rows[0]?.p ?? 0) + 10
}
