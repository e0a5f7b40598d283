import { Between, LessThan, type FindOptionsWhere } from 'typeorm'
import type { FeatureTables } from '../../adapters/db/feature-store'
import type { GroupRecord } from '../../kernel/context'
import { ModerationReversed } from '../../contracts/moderation'
import type { EventEmitter, FeatureRules } from '../../kernel/feature'
import { defineRoute, groupOr404, HttpError, type RouteDefinition } from '../../kernel/routes'
import { addDays, localTime } from '../../kernel/time'
import type { Clock } from '../../ports/clock'
import type { StrikeBook } from './moderation.enforce'
import { ModerationEventEntity } from './moderation.entity'
import type { ModerationRule } from './moderation.rules'
import { EventParams, EventsQuery, GroupParams, MemberParams, StatsQuery } from './moderation.schema'

const READ = { roles: ['admin', 'owner', 'operator'] as const, groupParam: 'id', mutates: false }
const WRITE = { roles: ['admin', 'owner'] as const, groupParam: 'id', mutates: true }

/** What moderation did: every violation and action, per-day stats, a member's strikes (and resetting them). */
export function moderationEventRoutes(deps: { db: FeatureTables; clock: Clock; rules: FeatureRules<ModerationRule>; book: StrikeBook; findGroup: (id: string) => Promise<GroupRecord | null>; events: EventEmitter }): RouteDefinition[] {
  const { db, rules } = deps
  const group = (id: string): Promise<GroupRecord> => groupOr404(deps.findGroup, id)
  return [
    defineRoute({
      method: 'GET', path: '/api/v1/groups/:id/moderation/events', summary: 'Violations and actions, newest first', params: GroupParams,
      query: EventsQuery, access: READ,
      async handler({ params, query }) {
        await group(params.id)
        const where: FindOptionsWhere<ModerationEventEntity> = { groupId: params.id }
        if (query.detector) where.detector = query.detector
        if (query.memberId) where.memberId = query.memberId
        if (query.result) where.result = query.result
        if (query.cursor) where.id = LessThan(query.cursor)
        if (query.since || query.until) where.at = Between(query.since ? Date.parse(query.since) : 0, query.until ? Date.parse(query.until) : Number.MAX_SAFE_INTEGER)
        // Events are written behind the message path: write what is buffered before reading.
        await deps.book.flush()
        const rows = await db.repo(ModerationEventEntity).find({ where, order: { id: 'DESC' }, take: query.limit + 1 })
        const page = rows.slice(0, query.limit)
        return {
          items: page.map((r) => ({ id: r.id, at: new Date(r.at).toISOString(), memberId: r.memberId, messageId: r.messageId, detector: r.detector, matched: r.matched, listId: r.listId, action: r.action, strike: r.strike, result: r.result, reason: r.reason, shadow: r.shadow, falsePositiveAt: r.falsePositiveAt === null ? null : new Date(r.falsePositiveAt).toISOString() })),
          nextCursor: rows.length > query.limit ? String(page[page.length - 1]?.id) : null,
        }
      },
    }),
    defineRoute({
      method: 'GET', path: '/api/v1/groups/:id/moderation/stats', summary: 'Violations per rule (detector) per day, live and shadow', params: GroupParams,
      query: StatsQuery, access: READ,
      async handler({ params, query }) {
        const g = await group(params.id)
        const to = localTime(deps.clock.now(), g.timezone).day
        const from = addDays(to, -(query.days - 1))
        const since = deps.clock.now() - (query.days + 1) * 86_400_000
        await deps.book.flush()
        const rows = await db.repo(ModerationEventEntity).find({ select: { detector: true, at: true, shadow: true, action: true }, where: { groupId: params.id, at: Between(since, Number.MAX_SAFE_INTEGER) } })
        const counts = new Map<string, { day: string; detector: string; live: number; shadow: number; removals: number }>()
        for (const r of rows) {
          const day = localTime(r.at, g.timezone).day
          if (day < from || day > to) continue
          const key = `${day}|${r.detector}`
          const c = counts.get(key) ?? { day, detector: r.detector, live: 0, shadow: 0, removals: 0 }
          if (r.shadow) c.shadow++
          else c.live++
          if (r.action === 'remove') c.removals++
          counts.set(key, c)
        }
        return { groupId: params.id, from, to, items: [...counts.values()].sort((a, b) => a.day.localeCompare(b.day) || a.detector.localeCompare(b.detector)) }
      },
    }),
    defineRoute({
      method: 'GET', path: '/api/v1/groups/:id/moderation/members/:memberId', summary: "A member's live strikes and history", params: MemberParams, access: READ,
      async handler({ params }) {
        await group(params.id)
        const rule = await rules.forGroup(params.id)
        const strikes = deps.book.strikes(params.id, params.memberId, rule.decayDays, deps.clock.now())
        await deps.book.flush()
        const history = await db.repo(ModerationEventEntity).find({ where: { groupId: params.id, memberId: params.memberId }, order: { id: 'DESC' }, take: 100 })
        return {
          groupId: params.id, memberId: params.memberId, strikes, ladder: rule.ladder, decayDays: rule.decayDays,
          history: history.map((r) => ({ at: new Date(r.at).toISOString(), detector: r.detector, matched: r.matched, action: r.action, strike: r.strike, result: r.result, shadow: r.shadow })),
        }
      },
    }),
    defineRoute({
      method: 'POST', path: '/api/v1/groups/:id/moderation/members/:memberId/reset', summary: "Reset a member's strikes (history stays)", params: MemberParams,
      access: WRITE, status: 200,
      async handler({ params, audit }) {
        await group(params.id)
        const rule = await rules.forGroup(params.id)
        const before = deps.book.strikes(params.id, params.memberId, rule.decayDays, deps.clock.now())
        await deps.book.reset(params.id, params.memberId, deps.clock.now())
        audit({ groupId: params.id, target: `member:${params.memberId}`, before: { strikes: before }, after: { strikes: 0 } })
        return { groupId: params.id, memberId: params.memberId, strikes: 0 }
      },
    }),
    defineRoute({
      method: 'POST', path: '/api/v1/groups/:id/moderation/events/:eventId/false-positive',
      summary: 'Mark a moderation event a false positive (counted per rule in the stats rules report; marking twice changes nothing; strikes are reset separately)',
      params: EventParams, access: WRITE, status: 200,
      async handler({ params, audit }) {
        const g = await group(params.id)
        const now = deps.clock.now()
        const marked = await deps.book.markFalsePositive(params.id, params.eventId, now)
        if (!marked) throw new HttpError(404, 'not_found', 'no such moderation event')
        const { row } = marked
        if (marked.first) {
          deps.events.emit(ModerationReversed.of({
            id: `moderation.reversed:${params.id}:${row.messageId ?? `event-${row.id}`}:${row.detector}`, at: now, botId: g.botId, groupId: params.id, memberId: row.memberId, eventId: row.id,
            detector: row.detector, action: row.action, shadow: row.shadow, violationAt: row.at,
          }))
          audit({ groupId: params.id, target: `moderation-event:${row.id}`, before: { falsePositive: false }, after: { falsePositive: true, detector: row.detector } })
        }
        return { groupId: params.id, eventId: row.id, detector: row.detector, falsePositiveAt: new Date(row.falsePositiveAt ?? now).toISOString(), alreadyMarked: !marked.first }
      },
    }),
  ]
}
