import { z } from 'zod'
import { csvDocument, parseCsv } from '../../kernel/csv'
import { In, IsNull } from 'typeorm'
import type { FeatureStore } from '../../adapters/db/feature-store'
import { canSeeOwned, ownerFor, type Principal } from '../../kernel/auth'
import type { GroupRecord } from '../../kernel/context'
import { defineRoute, groupNotFound, HttpError, ownedNotFound, type ErrorDetail, type RouteDefinition } from '../../kernel/routes'
import { addDays, localTime } from '../../kernel/time'
import type { Clock } from '../../ports/clock'
import type { FeatureRules } from '../../kernel/feature'
import { AutoReplyHitEntity, AutoReplyRuleEntity } from './auto-reply.entity'
import type { Responder } from './auto-reply.responder'
import { AutoReplyRuleSchema, ScopeSchema, type AutoReplyGroup, type AutoReplyRule } from './auto-reply.rules'
import { toLive, toRow, type AutoReplyStore } from './auto-reply.store'

const RuleParams = z.strictObject({ ruleId: z.coerce.number().int().positive().max(2 ** 31) })
const GroupParams = z.strictObject({ id: z.string().min(1).max(191) })
/** Auto-reply rules are owned by the token that created them (admins' rules: by no one, visible to admins). */
const RULE = { kind: 'auto-reply rule' }
const OWNERS = { roles: ['admin', 'owner'] as const, mutates: false, owned: RULE }
/** Routes naming one rule: others' rules answer 404 (enforced by the HTTP adapter through findOwned). */
const ONE_RULE = { roles: ['admin', 'owner'] as const, owned: { ...RULE, param: 'ruleId' } }
const MATCH_TYPES = ['exact', 'contains', 'startsWith', 'any', 'regex'] as const

/** A rule as the API shows it. */
function view(row: AutoReplyRuleEntity): Record<string, unknown> {
  const live = toLive(row)
  return {
    id: row.id, ownerTokenId: row.ownerTokenId, position: row.position, version: row.version,
    createdAt: new Date(row.createdAt).toISOString(), updatedAt: new Date(row.updatedAt).toISOString(),
    name: live.name, enabled: live.enabled, trigger: live.trigger, scope: live.scope, conditions: live.conditions,
    cooldown: live.cooldown, alsoContinue: live.alsoContinue, answer: live.answer,
  }
}

/** Refuses group ids outside an owner's groups (same words for other owners' and non-existent groups). */
function checkScope(rule: Pick<AutoReplyRule, 'scope'>, auth: Principal | null, path: string): void {
  if (!auth || auth.scope.all || rule.scope.type !== 'groups') return
  const outside = rule.scope.groupIds.filter((g) => !auth.scope.has(g))
  if (outside.length > 0) throw new HttpError(400, 'invalid_input', 'not one of your groups', outside.map((g) => ({ path: `${path}scope.groupIds`, message: `${g}: not one of your groups` })))
}

/** Admin routes of auto-reply: CRUD, enable/disable, reorder, CSV import/export, dry-run, hit stats. */
export function autoReplyRoutes(deps: { db: FeatureStore; clock: Clock; store: AutoReplyStore; responder: Responder; rules: FeatureRules<AutoReplyGroup>; findGroup: (id: string) => Promise<GroupRecord | null> }): RouteDefinition[] {
  const repo = () => deps.db.repo(AutoReplyRuleEntity)
  /** Who owns a rule (null: no such rule); the HTTP adapter answers 404 to callers who may not see it. */
  const findOwned = ({ ruleId }: z.infer<typeof RuleParams>) => repo().findOne({ select: { ownerTokenId: true }, where: { id: ruleId } })
  /** The rule a route names (its ownership already checked; it may have been deleted since). */
  const load = async (id: number): Promise<AutoReplyRuleEntity> => {
    const row = await repo().findOneBy({ id })
    if (!row) throw ownedNotFound(RULE.kind)
    return row
  }
  const nextPosition = async (): Promise<number> => {
    const rows: Array<{ p: number | string | null }> = await deps.db.query('SELECT MAX(position) AS p FROM qy_auto_reply_rule')
    return Number(rows[0]?.p ?? 0) + 10
  }
  const groupFacts = deps.findGroup

  return [
    defineRoute({
      method: 'GET', path: '/api/v1/auto-replies', summary: 'Rules in answer order (owners: their own)',
      query: z.strictObject({ groupId: z.string().min(1).max(191).optional(), enabled: z.enum(['true', 'false']).optional() }), access: OWNERS,
      async handler({ query, auth }) {
        const where: Record<string, unknown> = {}
        const owner = ownerFor(auth)
        if (owner !== null) where.ownerTokenId = owner
        if (query.enabled) where.enabled = query.enabled === 'true'
        let rows = await repo().find({ where, order: { position: 'ASC', id: 'ASC' } })
        if (query.groupId) {
          if (auth && !auth.scope.has(query.groupId)) return { items: [] }
          const facts = await groupFacts(query.groupId)
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
        const inserted = await repo().insert({ ...toRow(body), ownerTokenId: ownerFor(auth), position: await nextPosition(), version: 1, createdAt: now, updatedAt: now })
        const row = await repo().findOneByOrFail({ id: Number(inserted.identifiers[0]?.id) })
        await deps.store.changed()
        audit({ target: `auto-reply:${row.id}`, after: view(row) })
        return view(row)
      },
    }),
    defineRoute({
      method: 'GET', path: '/api/v1/auto-replies/export.csv', summary: 'Rules as CSV (keywords, match, answer, name, enabled)',
      access: OWNERS, contentType: 'text/csv; charset=utf-8',
      async handler({ auth }) {
        const owner = ownerFor(auth)
        const rows = await repo().find({ where: owner === null ? {} : { ownerTokenId: owner }, order: { position: 'ASC', id: 'ASC' } })
        return csvDocument(['keywords', 'match', 'answer', 'name', 'enabled'], rows.map((row) => {
          const r = toLive(row)
          const keywords = r.trigger.type === 'regex' ? r.trigger.pattern : r.trigger.keywords.join('|')
          return [keywords, r.trigger.type, r.answer.variants[0]?.text ?? '', r.name, String(r.enabled)]
        }))
      },
    }),
    defineRoute({
      method: 'POST', path: '/api/v1/auto-replies/import', summary: 'Import a FAQ from CSV (keywords, match, answer[, name]); reports bad rows',
      body: z.strictObject({
        csv: z.string().min(1).max(512 * 1024),
        scope: ScopeSchema.default({ type: 'all' }),
        mode: z.enum(['append', 'replace']).default('append'),
      }),
      access: { roles: ['admin', 'owner'], mutates: true },
      async handler({ body, auth, audit }) {
        checkScope({ scope: body.scope }, auth, 'body.')
        const rows = parseCsv(body.csv)
        const header = rows[0]?.map((h) => h.trim().toLowerCase()) ?? []
        const hasHeader = header.includes('keywords') && header.includes('answer')
        const col = (name: string, fallback: number): number => (hasHeader ? header.indexOf(name) : fallback)
        const at = { keywords: col('keywords', 0), match: col('match', 1), answer: col('answer', 2), name: col('name', 3) }
        const valid: AutoReplyRule[] = []
        const errors: Array<{ row: number; problems: ErrorDetail[] }> = []
        rows.slice(hasHeader ? 1 : 0).forEach((cells, i) => {
          const rowNumber = i + (hasHeader ? 2 : 1)
          const get = (c: number): string => (c >= 0 ? (cells[c] ?? '').trim() : '')
          const match = get(at.match) || 'contains'
          const keywords = get(at.keywords)
          if (!(MATCH_TYPES as readonly string[]).includes(match)) {
            errors.push({ row: rowNumber, problems: [{ path: 'match', message: `one of ${MATCH_TYPES.join(', ')}` }] })
            return
          }
          const trigger = match === 'regex' ? { type: 'regex', pattern: keywords } : { type: match, keywords: keywords.split(/[|｜,，、]/).map((k) => k.trim()).filter(Boolean) }
          const parsed = AutoReplyRuleSchema.safeParse({
            name: get(at.name) || keywords.slice(0, 50) || `row ${rowNumber}`, trigger, scope: body.scope, answer: { variants: [{ text: get(at.answer) }] },
          })
          if (parsed.success) valid.push(parsed.data)
          else errors.push({ row: rowNumber, problems: parsed.error.issues.map((p) => ({ path: p.path.join('.'), message: p.message })) })
        })
        const owner = ownerFor(auth)
        let position = await nextPosition()
        const now = deps.clock.now()
        await deps.db.transaction(async (m) => {
          if (body.mode === 'replace') await m.repo(AutoReplyRuleEntity).delete(owner === null ? { ownerTokenId: IsNull() } : { ownerTokenId: owner })
          for (const rule of valid) {
            await m.repo(AutoReplyRuleEntity).insert({ ...toRow(rule), ownerTokenId: owner, position, version: 1, createdAt: now, updatedAt: now })
            position += 10
          }
        })
        await deps.store.changed()
        audit({ target: 'auto-reply:import', after: { mode: body.mode, imported: valid.length, rejected: errors.length } })
        return { imported: valid.length, rejected: errors.length, errors }
      },
    }),
    defineRoute({
      method: 'POST', path: '/api/v1/auto-replies/reorder', summary: 'Set the answer order of your rules (ids in the order wanted)',
      body: z.strictObject({ ruleIds: z.array(z.int().positive()).min(1).max(5000).refine((ids) => new Set(ids).size === ids.length, 'ids must be unique') }),
      access: { roles: ['admin', 'owner'], mutates: true }, status: 200,
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
      body: z.strictObject({ enabled: z.boolean() }), access: { ...ONE_RULE, mutates: true }, findOwned,
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
    defineRoute({
      method: 'POST', path: '/api/v1/groups/:id/auto-reply/dry-run', summary: 'Which rule would answer a text in this group, with what — or why none would',
      params: GroupParams, status: 200,
      body: z.strictObject({
        text: z.string().min(1).max(2000),
        senderName: z.string().min(1).max(100).default('群友'),
        senderId: z.string().min(1).max(191).default('dry-run'),
        mentionsBot: z.boolean().default(false),
        at: z.iso.datetime({ offset: true }).optional(),
        memberJoinedAt: z.iso.datetime({ offset: true }).optional(),
      }),
      access: { roles: ['admin', 'owner', 'operator'], groupParam: 'id', mutates: false },
      async handler({ params, body, auth }) {
        const facts = await groupFacts(params.id)
        if (!facts) throw groupNotFound()
        const settings = await deps.rules.forGroup(params.id)
        const at = body.at ? Date.parse(body.at) : deps.clock.now()
        const { normalized, outcomes } = await deps.responder.respond({
          text: body.text, groupId: params.id, groupLabels: facts.labels, timezone: facts.timezone, at, mentionsBot: body.mentionsBot,
          memberJoinedAt: body.memberJoinedAt ? Date.parse(body.memberJoinedAt) : null, botId: 'dry-run', groupName: facts.name,
          memberId: body.senderId, memberName: body.senderName,
        }, settings, true)
        // The group's real decision, but only the caller's rules by name (admins: all): another owner's rule
        // is never named, and one that does not serve this group is not mentioned at all.
        const answered = outcomes.some((o) => o.status === 'answered')
        const shown = outcomes.filter((o) => canSeeOwned(auth, o.ownerTokenId)).map(({ ownerTokenId: _owner, ...o }) => o)
        const answer = shown.find((o) => o.status === 'answered') ?? null
        const reason = !settings.enabled ? 'auto-reply is off in this group'
          : answer ? null
            : answered ? 'a rule you cannot see would answer'
              : shown.length === 0 ? 'no rule matches' : `matching rules would not answer: ${shown.map((o) => `${o.name} (${o.status})`).join(', ')}`
        return { normalized, wouldAnswer: settings.enabled && answered, answer: settings.enabled ? answer : null, matches: shown, reason }
      },
    }),
    defineRoute({
      method: 'GET', path: '/api/v1/groups/:id/auto-reply/stats', summary: 'Answered and suppressed (cooldown) hits per rule per day',
      params: GroupParams, query: z.strictObject({ days: z.coerce.number().int().min(1).max(90).default(7) }),
      access: { roles: ['admin', 'owner', 'operator'], groupParam: 'id', mutates: false },
      async handler({ params, query, auth }) {
        const facts = await groupFacts(params.id)
        if (!facts) throw groupNotFound()
        const to = localTime(deps.clock.now(), facts.timezone).day
        const from = addDays(to, -(query.days - 1))
        const rows = await deps.db.repo(AutoReplyHitEntity).createQueryBuilder('h')
          .where('h.group_id = :g AND h.day >= :from AND h.day <= :to', { g: params.id, from, to }).orderBy('h.day', 'ASC').addOrderBy('h.rule_id', 'ASC').getMany()
        // Hits of rules the caller may see only (admins: all); a deleted rule's hits stay visible to admins.
        const ids = [...new Set(rows.map((r) => r.ruleId))]
        const owners = new Map((ids.length > 0 ? await repo().find({ select: { id: true, ownerTokenId: true }, where: { id: In(ids) } }) : []).map((r) => [r.id, r.ownerTokenId]))
        const visible = rows.filter((r) => canSeeOwned(auth, owners.get(r.ruleId) ?? null))
        return { groupId: params.id, from, to, items: visible.map((r) => ({ ruleId: r.ruleId, day: r.day, answered: r.answered, suppressed: r.suppressed })) }
      },
    }),
  ]
}
