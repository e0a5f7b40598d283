import type { z } from 'zod'
import { In } from 'typeorm'
import type { FeatureStore } from '../../adapters/db/feature-store'
import { canSeeOwned, ownerFor } from '../../kernel/auth'
import type { GroupRecord } from '../../kernel/context'
import { defineRoute, HttpError, ownedNotFound, type RouteDefinition } from '../../kernel/routes'
import type { Clock } from '../../ports/clock'
import { AutoReplyRuleEntity } from './auto-reply.entity'
import { AutoReplyRuleSchema } from './auto-reply.rules'
import { EnableBody, ListRulesQuery, ReorderBody, RuleParams } from './auto-reply.schema'
import { toLive, toRow, type AutoReplyStore } from './auto-reply.store'
import { checkScope, nextPosition, OWNERS, RULE, view } from './auto-reply.view'

/** Routes naming one rule: others' rules answer 404 (enforced by the HTTP adapter through findOwned). */
const ONE_RULE = { roles: ['admin', 'owner'] as const, owned: { ...RULE, param: 'ruleId' } }

/** The rules themselves: list, create, reorder, read, replace, enable/disable, delete. */
export function ruleRoutes(deps: { db: FeatureStore; clock: Clock; store: AutoReplyStore; findGroup: (id: string) => Promise<GroupRecord | null> }): RouteDefinition[] {
  const repo = () => deps.db.repo(AutoReplyRuleEntity)
  /** Who owns a rule (null: no such rule); the HTTP adapter answers 404 to callers who may not see it. */
  const findOwned = ({ ruleId }: z.infer<typeof RuleParams>) => repo().findOne({ select: { ownerTokenId: true }, where: { id: ruleId } })
  /** The rule a route names (its ownership already checked; it may have been deleted since). */
  const load = async (id: number): Promise<AutoReplyRuleEntity> => {
    const row = await repo().findOneBy({ id })
    if (!row) throw ownedNotFound(RULE.kind)
    return row
  }

  return [
    defineRoute({
      method: 'GET', path: '/api/v1/auto-replies', summary: 'Rules in answer order (owners: their own)',
      query: ListRulesQuery, access: OWNERS,
      async handler({ query, auth }) {
        const where: Record<string, unknown> = {}
        const owner = ownerFor(auth)
        if (owner !== null) where.ownerTokenId = owner
        if (query.enabled) where.enabled = query.enabled === 'true'
        let rows = await repo().find({ where, order: { position: 'ASC', id: 'ASC' } })
        if (query.groupId) {
          if (auth && !auth.scope.has(query.groupId)) return { items: [] }
          const facts = await deps.findGroup(query.groupId)
          const [index, owners] = await Promise.all([deps.store.index(), deps.store.scopes()])
          rows = rows.filter((r) => facts && index.serves(toLive(r), query.groupId as string, facts.labels, owners))
        }
        return { items: rows.map(view) }
      },
    }),
    defineRoute({
      method: 'POST', path: '/api/v1/auto-replies', summary: 'Create a rule (placed last)', body: AutoReplyRuleSchema,
      access: { roles: ['admin', 'owner'], mutates: true },
      async handler({ body, auth, audit }) {
        checkScope(body, auth, 'body.')
        const now = deps.clock.now()
        const inserted = await repo().insert({ ...toRow(body), ownerTokenId: ownerFor(auth), position: await nextPosition(deps.db), version: 1, createdAt: now, updatedAt: now })
        const row = await repo().findOneByOrFail({ id: Number(inserted.identifiers[0]?.id) })
        await deps.store.changed()
        audit({ target: `auto-reply:${row.id}`, after: view(row) })
        return view(row)
      },
    }),
    defineRoute({
      method: 'POST', path: '/api/v1/auto-replies/reorder', summary: 'Set the answer order of your rules (ids in the order wanted)',
      body: ReorderBody, access: { roles: ['admin', 'owner'], mutates: true }, status: 200,
      async handler({ body, auth, audit }) {
        const rows = await repo().findBy({ id: In(body.ruleIds) })
        const mine = rows.filter((r) => canSeeOwned(auth, r.ownerTokenId))
        if (mine.length !== body.ruleIds.length) throw new HttpError(400, 'invalid_input', 'unknown rule ids', [{ path: 'body.ruleIds', message: 'every id must be one of your rules' }])
        // Reuse the rules' own positions, so other owners' rules keep their places between them.
        const slots = mine.map((r) => r.position).sort((a, b) => a - b)
        await deps.db.transaction(async (m) => {
          for (const [i, id] of body.ruleIds.entries()) await m.repo(AutoReplyRuleEntity).update({ id }, { position: slots[i] as number, updatedAt: deps.clock.now() })
        })
        await deps.store.changed()
        audit({ target: 'auto-reply:order', before: mine.map((r) => r.id), after: body.ruleIds })
        return { ruleIds: body.ruleIds }
      },
    }),
    defineRoute({
      method: 'GET', path: '/api/v1/auto-replies/:ruleId', summary: 'One rule', params: RuleParams, access: { ...ONE_RULE, mutates: false }, findOwned,
      async handler({ params }) { return view(await load(params.ruleId)) },
    }),
    defineRoute({
      method: 'PUT', path: '/api/v1/auto-replies/:ruleId', summary: 'Replace a rule (keeps its place)', params: RuleParams, body: AutoReplyRuleSchema,
      access: { ...ONE_RULE, mutates: true }, findOwned,
      async handler({ params, body, auth, audit }) {
        const before = await load(params.ruleId)
        checkScope(body, auth, 'body.')
        await repo().update({ id: before.id }, { ...toRow(body), version: before.version + 1, updatedAt: deps.clock.now() })
        const after = await repo().findOneByOrFail({ id: before.id })
        await deps.store.changed()
        audit({ target: `auto-reply:${before.id}`, before: view(before), after: view(after) })
        return view(after)
      },
    }),
    defineRoute({
      method: 'PATCH', path: '/api/v1/auto-replies/:ruleId', summary: 'Enable or disable a rule', params: RuleParams,
      body: EnableBody, access: { ...ONE_RULE, mutates: true }, findOwned,
      async handler({ params, body, audit }) {
        const before = await load(params.ruleId)
        await repo().update({ id: before.id }, { enabled: body.enabled, version: before.version + 1, updatedAt: deps.clock.now() })
        await deps.store.changed()
        audit({ target: `auto-reply:${before.id}`, before: { enabled: before.enabled }, after: { enabled: body.enabled } })
        return view(await repo().findOneByOrFail({ id: before.id }))
      },
    }),
    defineRoute({
      method: 'DELETE', path: '/api/v1/auto-replies/:ruleId', summary: 'Delete a rule', params: RuleParams,
      access: { ...ONE_RULE, mutates: true }, findOwned,
      async handler({ params, audit }) {
        const before = await load(params.ruleId)
        await repo().delete({ id: before.id })
        await deps.store.changed()
        audit({ target: `auto-reply:${before.id}`, before: view(before) })
        return { deleted: before.id }
      },
    }),
  ]
}
