import { createHash } from 'node:crypto'
import type { z } from 'zod'
import type { FeatureStore } from '../../adapters/db/feature-store'
import type { GroupDirectory } from '../../kernel/directory'
import type { FeatureRules } from '../../kernel/feature'
import type { Outbound } from '../../kernel/outbound-service'
import type { RuleDryRun } from '../../kernel/rules'
import { defineRoute, groupNotFound, GroupParams, HttpError, MemberParams, type RouteDefinition } from '../../kernel/routes'
import { addDays, localTime } from '../../kernel/time'
import type { Clock } from '../../ports/clock'
import { In, LessThanOrEqual } from 'typeorm'
import { isDuplicate } from '../../adapters/db/errors'
import { TaggingHistoryEntity, TaggingMemberEntity, TaggingTagEntity } from './tagging.entity'
import { current, displayScore, matches, type ScoreScale } from './tagging.model'
import type { TaggingRule, TagRule } from './tagging.rules'
import { CleanupBody, CleanupQuery, decodeMembersCursor, DryRunBody, encodeMembersCursor, ManualTagBody, MembersQuery, StatsQuery, TagParams, TimelineQuery, type MembersCursor } from './tagging.schema'
import type { TaggingService } from './tagging.service'

const READ = { roles: ['admin', 'owner', 'operator'] as const, groupParam: 'id', mutates: false }
const WRITE = { roles: ['admin', 'owner'] as const, groupParam: 'id', mutates: true }
const SORT_COLUMN = { score: 'score', lastActive: 'last_active_day', joined: 'joined_at', stateSince: 'state_at' } as const
const NULLABLE_SORT = new Set<string>(['lastActive', 'joined'])

/** A member's value of a sort (the stored form, so a cursor compares exactly what the database orders by). */
function sortValue(r: TaggingMemberEntity, sort: MembersCursor['s']): number | string | null {
  return sort === 'score' ? r.score : sort === 'lastActive' ? r.lastActiveDay : sort === 'joined' ? r.joinedAt : r.stateAt
}

/**
 * The rows after a cursor, as consecutive slices of the sort order, each an index range (NULLs sort first
 * ascending and last descending on both databases, so they are their own slice, ordered by member id).
 */
function keysetSlices(c: MembersCursor, col: string): Array<{ sql: string; args: unknown[] }> {
  const nullable = NULLABLE_SORT.has(c.s)
  if (c.o === 'desc') {
    if (c.v === null) return [{ sql: `${col} IS NULL AND member_id < ?`, args: [c.m] }]
    return [{ sql: `${col} <= ? AND (${col} < ? OR member_id < ?)`, args: [c.v, c.v, c.m] }, ...(nullable ? [{ sql: `${col} IS NULL`, args: [] }] : [])]
  }
  if (c.v === null) return [{ sql: `${col} IS NULL AND member_id > ?`, args: [c.m] }, { sql: `${col} IS NOT NULL`, args: [] }]
  return [{ sql: `${col} >= ? AND (${col} > ? OR member_id > ?)`, args: [c.v, c.v, c.m] }]
}

/** A member as the API shows them. */
function memberView(r: TaggingMemberEntity, scale: ScoreScale, now: number, tags: string[], name: string | null) {
  return {
    memberId: r.memberId, name, state: r.state, stateSince: new Date(r.stateAt).toISOString(),
    score: displayScore(current(r.score, now, scale)), segment: r.segment, tags,
    lastActiveDay: r.lastActiveDay, joinedAt: r.joinedAt !== null ? new Date(r.joinedAt).toISOString() : null, inviterId: r.inviterId,
    messages: r.messages, activeDays: r.activeDays,
  }
}

/** Admin routes: members with lifecycle, score and tags; one member's timeline; manual tags; stats. */
export function taggingRoutes(deps: { store: FeatureStore; clock: Clock; service: TaggingService; directory: GroupDirectory; rules: FeatureRules<TaggingRule>; outbound: Outbound }): RouteDefinition[] {
  const { store } = deps
  const group = async (id: string) => {
    const g = await deps.directory.find(id)
    if (!g) throw groupNotFound()
    return g
  }
  const tagsOf = async (groupId: string, ids: string[]): Promise<Map<string, string[]>> => {
    const out = new Map<string, string[]>()
    if (ids.length === 0) return out
    const rows: Array<{ member_id: string; tag: string }> = await store.query(`SELECT member_id, tag FROM qy_tagging_tag WHERE group_id = ? AND member_id IN (${ids.map(() => '?').join(',')}) ORDER BY tag`, [groupId, ...ids])
    for (const r of rows) out.set(r.member_id, [...(out.get(r.member_id) ?? []), r.tag])
    return out
  }
  const namesOf = async (groupId: string, ids: string[]): Promise<Map<string, string>> =>
    new Map((ids.length > 0 ? await deps.directory.members(groupId, { ids, includeLeft: true }) : []).map((m) => [m.id, m.name]))

  /** Members of a cleanup: in the state, silent long enough, still in the group, and neither owner, admin nor bot. */
  const cleanupCandidates = async (groupId: string, timezone: string, state: 'dormant' | 'churned', silentDays: number | undefined, ids?: readonly string[]): Promise<TaggingMemberEntity[]> => {
    const where: Record<string, unknown> = { groupId, state }
    if (silentDays !== undefined) where.seenDay = LessThanOrEqual(addDays(localTime(deps.clock.now(), timezone).day, -silentDays))
    if (ids) where.memberId = In([...ids])
    const rows = await store.repo(TaggingMemberEntity).find({ where, order: { seenDay: 'ASC', memberId: 'ASC' } })
    if (rows.length === 0) return []
    const present = new Map((await deps.directory.members(groupId, { ids: rows.map((r) => r.memberId) })).map((m) => [m.id, m]))
    return rows.filter((r) => { const m = present.get(r.memberId); return m !== undefined && m.active && m.role === 'member' })
  }
  /** The confirmation of a preview: binds the group and exactly its member ids. */
  const confirmationOf = (groupId: string, ids: readonly string[]): string => createHash('sha256').update(JSON.stringify([groupId, [...ids].sort()])).digest('hex')

  return [
    defineRoute({
      method: 'GET', path: '/api/v1/groups/:id/tagging/cleanup', summary: 'Preview of a cleanup: churned (or dormant) members still in the group, with the confirmation the removal needs',
      params: GroupParams, query: CleanupQuery, access: READ,
      async handler({ params, query }) {
        const g = await group(params.id)
        const all = await cleanupCandidates(params.id, g.timezone, query.state, query.silentDays)
        const shown = all.slice(0, query.limit)
        const names = await namesOf(params.id, shown.map((r) => r.memberId))
        return {
          groupId: params.id, state: query.state, total: all.length,
          members: shown.map((r) => ({ memberId: r.memberId, name: names.get(r.memberId) ?? null, state: r.state, lastActiveDay: r.lastActiveDay, silentSince: r.seenDay })),
          confirmation: confirmationOf(params.id, shown.map((r) => r.memberId)),
        }
      },
    }),
    defineRoute({
      method: 'POST', path: '/api/v1/groups/:id/tagging/cleanup', summary: 'Remove the members of a preview (owner-confirmed; through the outbound queue, once per member and confirmation)',
      params: GroupParams, body: CleanupBody, access: WRITE, status: 200,
      async handler({ params, body, audit }) {
        const g = await group(params.id)
        if (confirmationOf(params.id, body.memberIds) !== body.confirmation) {
          throw new HttpError(400, 'invalid_input', 'the member ids are not those of the preview', [{ path: 'body.confirmation', message: 'preview again and confirm its members' }])
        }
        const now = deps.clock.now()
        const eligible = new Set([
          ...(await cleanupCandidates(params.id, g.timezone, 'churned', undefined, body.memberIds)),
          ...(await cleanupCandidates(params.id, g.timezone, 'dormant', undefined, body.memberIds)),
        ].map((r) => r.memberId))
        const removed: string[] = []
        const skipped: string[] = []
        for (const memberId of body.memberIds) {
          if (!eligible.has(memberId)) { skipped.push(memberId); continue }
          try {
            await store.repo(TaggingHistoryEntity).insert({ groupId: params.id, memberId, kind: 'cleanup', detail: body.reason, ref: `cleanup:${body.confirmation}`, at: now })
          } catch (error) {
            if (isDuplicate(error)) { skipped.push(memberId); continue } // this confirmation removed them already
            throw error
          }
          deps.outbound.remove({ botId: g.botId, groupId: params.id }, memberId, body.reason, { cause: `tagging.cleanup:${body.confirmation.slice(0, 16)}`, note: 'cleanup (owner-confirmed)' })
          removed.push(memberId)
        }
        audit({ groupId: params.id, target: 'tagging:cleanup', after: { removed, skipped } })
        return { groupId: params.id, removed, skipped }
      },
    }),
    defineRoute({
      method: 'GET', path: '/api/v1/groups/:id/tagging/members', summary: 'Members with lifecycle state, current score, segment and tags (filter, sort, page)',
      params: GroupParams, query: MembersQuery, access: READ,
      async handler({ params, query }) {
        await group(params.id)
        const scale = await deps.service.scale(params.id)
        const now = deps.clock.now()
        const where: string[] = ['group_id = ?']
        const args: unknown[] = [params.id]
        if (query.state) { where.push('state = ?'); args.push(query.state) }
        if (query.segment) { where.push('segment = ?'); args.push(query.segment) }
        if (query.tag) { where.push('member_id IN (SELECT member_id FROM qy_tagging_tag WHERE group_id = ? AND tag = ?)'); args.push(params.id, query.tag) }
        const filter = where.join(' AND ')
        const total = Number((await store.query<{ n: number | string }>(`SELECT COUNT(*) AS n FROM qy_tagging_member WHERE ${filter}`, args))[0]?.n ?? 0)
        const dir = query.order === 'asc' ? 'ASC' : 'DESC'
        const col = SORT_COLUMN[query.sort]
        const order = `ORDER BY ${col} ${dir}, member_id ${dir}`
        let ids: string[]
        if (query.cursor === undefined) {
          ids = (await store.query<{ member_id: string }>(`SELECT member_id FROM qy_tagging_member WHERE ${filter} ${order} LIMIT ? OFFSET ?`, [...args, query.limit, query.offset])).map((r) => r.member_id)
        } else {
          const cursor = decodeMembersCursor(query.cursor)
          if (!cursor || cursor.s !== query.sort || cursor.o !== query.order || query.offset !== 0) {
            throw new HttpError(400, 'invalid_input', 'not a cursor of this list', [{ path: 'query.cursor', message: 'pass the nextCursor of the previous page, with the same sort and order and no offset' }])
          }
          ids = []
          for (const slice of keysetSlices(cursor, col)) {
            if (ids.length >= query.limit) break
            const page = await store.query<{ member_id: string }>(`SELECT member_id FROM qy_tagging_member WHERE ${filter} AND ${slice.sql} ${order} LIMIT ?`, [...args, ...slice.args, query.limit - ids.length])
            ids.push(...page.map((r) => r.member_id))
          }
        }
        const rows = ids.length > 0 ? await store.repo(TaggingMemberEntity).findBy(ids.map((memberId) => ({ groupId: params.id, memberId }))) : []
        const byId = new Map(rows.map((r) => [r.memberId, r]))
        const [tags, names] = await Promise.all([tagsOf(params.id, ids), namesOf(params.id, ids)])
        const last = ids.length === query.limit ? byId.get(ids[ids.length - 1] ?? '') : undefined
        return {
          groupId: params.id, total, offset: query.offset, limit: query.limit,
          items: ids.flatMap((id) => { const r = byId.get(id); return r ? [memberView(r, scale, now, tags.get(id) ?? [], names.get(id) ?? null)] : [] }),
          /** The next page's cursor (keyset paging: stable and as fast at any depth), null after the last page. */
          nextCursor: last ? encodeMembersCursor({ s: query.sort, o: query.order, v: sortValue(last, query.sort), m: last.memberId }) : null,
        }
      },
    }),
    defineRoute({
      method: 'GET', path: '/api/v1/groups/:id/tagging/members/:memberId', summary: "One member's lifecycle, score, tags and timeline (joins, lifecycle changes, check-ins, tags, wake-ups), newest first",
      params: MemberParams, query: TimelineQuery, access: READ,
      async handler({ params, query }) {
        await group(params.id)
        const row = await store.repo(TaggingMemberEntity).findOneBy({ groupId: params.id, memberId: params.memberId })
        const scale = await deps.service.scale(params.id)
        const [tags, names, history] = await Promise.all([
          store.repo(TaggingTagEntity).find({ where: { groupId: params.id, memberId: params.memberId }, order: { tag: 'ASC' } }),
          namesOf(params.id, [params.memberId]),
          store.repo(TaggingHistoryEntity).find({ where: { groupId: params.id, memberId: params.memberId }, order: { at: 'DESC', id: 'DESC' }, take: query.limit }),
        ])
        const name = names.get(params.memberId) ?? null
        // A member the feature has not seen yet (never spoke or joined since it runs): no state, no score.
        const view = row ? memberView(row, scale, deps.clock.now(), tags.map((t) => t.tag), name)
          : { memberId: params.memberId, name, state: null, stateSince: null, score: 0, segment: null, tags: tags.map((t) => t.tag), lastActiveDay: null, joinedAt: null, inviterId: null, messages: 0, activeDays: 0 }
        return {
          ...view,
          tagDetails: tags.map((t) => ({ tag: t.tag, source: t.source, since: new Date(t.at).toISOString() })),
          timeline: history.map((h) => ({ kind: h.kind, detail: h.detail, at: new Date(h.at).toISOString() })),
        }
      },
    }),
    defineRoute({
      method: 'POST', path: '/api/v1/groups/:id/tagging/members/:memberId/tags', summary: 'Add a manual tag to a member (rules never remove it)',
      params: MemberParams, body: ManualTagBody, access: WRITE,
      async handler({ params, body, audit }) {
        await group(params.id)
        const now = deps.clock.now()
        // A rule or segment tag of the same name becomes manual (kept whatever the rules say).
        await store.transaction(async (m) => {
          await m.repo(TaggingTagEntity).delete({ groupId: params.id, memberId: params.memberId, tag: body.tag })
          await m.repo(TaggingTagEntity).insert({ groupId: params.id, memberId: params.memberId, tag: body.tag, source: 'manual', at: now })
          await m.insertIgnore('qy_tagging_history', ['group_id', 'member_id', 'kind', 'detail', 'ref', 'at'], [[params.id, params.memberId, 'tagged', `${body.tag} (manual)`, `tag:${body.tag}:${now}`, now]])
        })
        audit({ groupId: params.id, target: `member:${params.memberId}`, after: { tag: body.tag } })
        return { memberId: params.memberId, tag: body.tag, source: 'manual' }
      },
    }),
    defineRoute({
      method: 'DELETE', path: '/api/v1/groups/:id/tagging/members/:memberId/tags/:tag', summary: 'Remove a manual tag from a member (removed: null when they did not have it)',
      params: TagParams, access: WRITE,
      async handler({ params, audit }) {
        await group(params.id)
        const result = await store.repo(TaggingTagEntity).delete({ groupId: params.id, memberId: params.memberId, tag: params.tag, source: 'manual' })
        // Idempotent: removing a manual tag the member does not have changes nothing.
        if (!result.affected) return { memberId: params.memberId, removed: null }
        const now = deps.clock.now()
        await store.insertIgnore('qy_tagging_history', ['group_id', 'member_id', 'kind', 'detail', 'ref', 'at'], [[params.id, params.memberId, 'untagged', `${params.tag} (manual)`, `untag:${params.tag}:${now}`, now]])
        audit({ groupId: params.id, target: `member:${params.memberId}`, before: { tag: params.tag } })
        return { memberId: params.memberId, removed: params.tag }
      },
    }),
    defineRoute({
      method: 'GET', path: '/api/v1/groups/:id/tagging/stats', summary: 'Members per lifecycle state and segment, tag counts, and the wake-up rate (woken ÷ mentioned) over the last days',
      params: GroupParams, query: StatsQuery, access: READ,
      async handler({ params, query }) {
        const g = await group(params.id)
        const count = async (sql: string, args: unknown[]): Promise<Record<string, number>> =>
          Object.fromEntries((await store.query<{ k: string | null; n: number | string }>(sql, args)).map((r) => [r.k ?? 'none', Number(r.n)]))
        const since = deps.clock.now() - query.days * 86_400_000
        const history = await count('SELECT kind AS k, COUNT(*) AS n FROM qy_tagging_history WHERE group_id = ? AND kind IN (?, ?) AND at >= ? GROUP BY kind', [params.id, 'wakeup', 'woke', since])
        const mentioned = history.wakeup ?? 0
        const woken = history.woke ?? 0
        return {
          groupId: params.id, today: localTime(deps.clock.now(), g.timezone).day, from: addDays(localTime(since, g.timezone).day, 0),
          states: await count('SELECT state AS k, COUNT(*) AS n FROM qy_tagging_member WHERE group_id = ? GROUP BY state', [params.id]),
          segments: await count('SELECT segment AS k, COUNT(*) AS n FROM qy_tagging_member WHERE group_id = ? GROUP BY segment', [params.id]),
          tags: await count('SELECT tag AS k, COUNT(*) AS n FROM qy_tagging_tag WHERE group_id = ? GROUP BY tag', [params.id]),
          wakeUp: { mentioned, woken, rate: mentioned > 0 ? Math.round((woken / mentioned) * 1000) / 1000 : null },
        }
      },
    }),
  ]
}

/**
 * Dry run of a tag rule ("which members would get this tag now?"): one of the group's tag rules by id,
 * or a rule not saved yet, evaluated on every member's stored facts. Nothing is written or sent.
 */
export function taggingDryRun(deps: { service: TaggingService; clock: Clock; store: FeatureStore }): RuleDryRun<TaggingRule, z.infer<typeof DryRunBody>> {
  return {
    body: DryRunBody,
    async run({ group, rules, body }) {
      let tagRule: TagRule | undefined
      if ('tagRuleId' in body) {
        tagRule = rules.tags.find((t) => t.id === body.tagRuleId)
        if (!tagRule) throw new HttpError(400, 'invalid_input', 'no such tag rule in this group', [{ path: 'body.tagRuleId', message: 'not one of the group\'s tag rules' }])
      } else tagRule = body.tagRule
      const now = deps.clock.now()
      const today = localTime(now, group.timezone).day
      const scale = await deps.service.scale(group.id)
      const repo = deps.store.repo(TaggingMemberEntity)
      const would: string[] = []
      let after = ''
      for (;;) {
        const rows = await repo.createQueryBuilder('m').where('m.groupId = :g AND m.memberId > :after', { g: group.id, after }).orderBy('m.memberId', 'ASC').limit(500).getMany()
        const facts = await deps.service.facts(group.id, { ...rules, tags: [tagRule] }, scale, today, now, rows)
        for (const r of rows) if (matches(tagRule, facts.get(r.memberId) as NonNullable<ReturnType<typeof facts.get>>, today)) would.push(r.memberId)
        if (rows.length < 500) break
        after = (rows[rows.length - 1] as TaggingMemberEntity).memberId
      }
      const tagged = new Set((await deps.store.repo(TaggingTagEntity).findBy({ groupId: group.id, tag: tagRule.tag })).map((t) => t.memberId))
      const wouldSet = new Set(would)
      return {
        tag: tagRule.tag, count: would.length, members: would.slice(0, body.limit),
        gain: would.filter((id) => !tagged.has(id)).slice(0, body.limit),
        lose: [...tagged].filter((id) => !wouldSet.has(id)).slice(0, body.limit),
      }
    },
  }
}
