import { Between } from 'typeorm'
import type { FeatureTables } from '../../adapters/db/feature-store'
import { csvDocument, csvOptions, withPseudonymise } from '../../kernel/csv'
import { defineRoute, GroupParams, HttpError, MemberParams, type RouteDefinition } from '../../kernel/routes'
import { addDays } from '../../kernel/time'
import type { Clock } from '../../ports/clock'
import { CheckInEntity, CheckInMemberEntity, PointsLedgerEntity } from './check-in.entity'
import { checkInDay, type CheckInService } from './check-in.service'
import type { CheckInRule } from './check-in.rules'
import { AdjustmentBody, DayQuery, ExportQuery, LeaderboardQuery, StatsQuery } from './check-in.schema'

const READ = { roles: ['admin', 'owner', 'operator'] as const, groupParam: 'id', mutates: false }

/** What the routes need to know about a group (its timezone and member count, or null when unknown). */
export type GroupFacts = (groupId: string) => Promise<{ timezone: string; memberCount: number } | null>

/** Admin routes of the check-in feature. */
export function checkInRoutes(deps: { db: FeatureTables; clock: Clock; service: CheckInService; facts: GroupFacts; rules: (groupId: string) => Promise<CheckInRule>; pseudonym: (memberId: string) => string }): RouteDefinition[] {
  const { db, service } = deps
  const group = async (id: string): Promise<{ timezone: string; memberCount: number; today: string; rule: CheckInRule }> => {
    const facts = await deps.facts(id)
    if (!facts) throw new HttpError(404, 'not_found', 'no such group')
    const rule = await deps.rules(id)
    return { ...facts, rule, today: checkInDay(deps.clock.now(), facts.timezone, rule.dayStart) }
  }
  return [
    defineRoute({
      method: 'GET', path: '/api/v1/groups/:id/check-ins', summary: 'Check-ins of one day (default today, in the group timezone), in rank order',
      params: GroupParams, query: DayQuery, access: READ,
      async handler({ params, query }) {
        const g = await group(params.id)
        const day = query.day ?? g.today
        const rows = await db.repo(CheckInEntity).find({ where: { groupId: params.id, day }, order: { kind: 'DESC', rank: 'ASC', at: 'ASC' } })
        const names = new Map((await db.repo(CheckInMemberEntity).findBy({ groupId: params.id })).map((m) => [m.memberId, m.name]))
        return {
          groupId: params.id, day, count: rows.filter((r) => r.kind === 'normal').length, makeUps: rows.filter((r) => r.kind === 'makeup').length,
          items: rows.map((r) => ({ memberId: r.memberId, name: names.get(r.memberId) ?? null, kind: r.kind, rank: r.rank, at: new Date(r.at).toISOString() })),
        }
      },
    }),
    defineRoute({
      method: 'GET', path: '/api/v1/groups/:id/check-ins/leaderboard', summary: 'Top members by current streak or points (ties share a rank)',
      params: GroupParams, query: LeaderboardQuery, access: READ,
      async handler({ params, query }) {
        const g = await group(params.id)
        return { groupId: params.id, by: query.by, today: g.today, items: await service.leaderboard(params.id, query.by, query.limit, g.today) }
      },
    }),
    defineRoute({
      method: 'GET', path: '/api/v1/groups/:id/check-ins/stats', summary: 'Check-ins per day and check-in rate (check-ins ÷ current members)',
      params: GroupParams, query: StatsQuery, access: READ,
      async handler({ params, query }) {
        const g = await group(params.id)
        const from = addDays(g.today, -(query.days - 1))
        const rows: Array<{ day: string; n: string | number; makeups: string | number }> = await db.query(
          "SELECT day, SUM(CASE WHEN kind = 'normal' THEN 1 ELSE 0 END) AS n, SUM(CASE WHEN kind = 'makeup' THEN 1 ELSE 0 END) AS makeups FROM qy_checkin WHERE group_id = ? AND day >= ? AND day <= ? GROUP BY day",
          [params.id, from, g.today])
        const byDay = new Map(rows.map((r) => [r.day, r]))
        const days = Array.from({ length: query.days }, (_, i) => {
          const day = addDays(from, i)
          const checkIns = Number(byDay.get(day)?.n ?? 0)
          return { day, checkIns, makeUps: Number(byDay.get(day)?.makeups ?? 0), rate: g.memberCount > 0 ? Math.round((checkIns / g.memberCount) * 10_000) / 10_000 : 0 }
        })
        return { groupId: params.id, members: g.memberCount, from, to: g.today, days }
      },
    }),
    defineRoute({
      method: 'GET', path: '/api/v1/groups/:id/check-ins/members/:memberId', summary: "A member's streak, days, balances and recent ledger",
      params: MemberParams, access: READ,
      async handler({ params }) {
        const g = await group(params.id)
        const standing = await service.standing(params.id, params.memberId, g.today)
        const days = await db.repo(CheckInEntity).find({ where: { groupId: params.id, memberId: params.memberId }, order: { day: 'DESC' }, take: 400 })
        const ledger = await db.repo(PointsLedgerEntity).find({ where: { groupId: params.id, memberId: params.memberId }, order: { id: 'DESC' }, take: 100 })
        return {
          groupId: params.id, memberId: params.memberId, today: g.today, ...standing,
          days: days.map((d) => ({ day: d.day, kind: d.kind, rank: d.rank })),
          ledger: ledger.map((l) => ({ id: l.id, at: new Date(l.at).toISOString(), currency: l.currency, delta: l.delta, source: l.source, ref: l.ref, reason: l.reason })),
        }
      },
    }),
    defineRoute({
      method: 'POST', path: '/api/v1/groups/:id/check-ins/members/:memberId/adjustments', summary: 'Add or remove points or make-up cards, with a reason (audited)',
      params: MemberParams,
      body: AdjustmentBody,
      access: { roles: ['admin', 'owner'], groupParam: 'id', mutates: true },
      async handler({ params, body, requestId, auth, audit }) {
        await group(params.id)
        const result = await service.adjust({ groupId: params.id, memberId: params.memberId, delta: body.delta, currency: body.currency, source: 'admin', ref: `req:${requestId}`, reason: body.reason, at: deps.clock.now() })
        audit({ groupId: params.id, target: `member:${params.memberId}`, after: { delta: body.delta, currency: body.currency, reason: body.reason, by: auth?.tokenId ?? null } })
        return { groupId: params.id, memberId: params.memberId, balance: result.balance, cards: result.cards, duplicate: result.duplicate }
      },
    }),
    defineRoute({
      method: 'GET', path: '/api/v1/groups/:id/check-ins/export.csv', summary: 'Check-ins as CSV (day, member, name, kind, rank, time)',
      params: GroupParams, query: withPseudonymise(ExportQuery), access: READ, contentType: 'text/csv; charset=utf-8',
      async handler({ params, query }) {
        const g = await group(params.id)
        const to = query.to ?? g.today
        const from = query.from ?? addDays(to, -29)
        if (from > to) throw new HttpError(400, 'invalid_input', 'from must not be after to', [{ path: 'query.from', message: 'after to' }])
        if (addDays(from, 366) < to) throw new HttpError(400, 'invalid_input', 'at most 366 days per export', [{ path: 'query.from', message: 'range too long' }])
        const rows = await db.repo(CheckInEntity).find({ where: { groupId: params.id, day: Between(from, to) }, order: { day: 'ASC', rank: 'ASC' } })
        const names = new Map((await db.repo(CheckInMemberEntity).findBy({ groupId: params.id })).map((m) => [m.memberId, m.name]))
        return csvDocument(['day', 'member_id', 'name', 'kind', 'rank', 'at'], rows.map((r) => [r.day, r.memberId, names.get(r.memberId) ?? '', r.kind, r.rank, new Date(r.at).toISOString()]), csvOptions(query, deps.pseudonym))
      },
    }),
  ]
}
