import { z } from 'zod'
import { MoreThan } from 'typeorm'
import type { FeatureStore } from '../../adapters/db/feature-store'
import { ownerFor, type Principal } from '../../kernel/auth'
import { csvDocument, CSV_PSEUDONYMISE, csvOptions } from '../../kernel/csv'
import { defineRoute, HttpError, ownedNotFound, type RouteDefinition } from '../../kernel/routes'
import { ineligibility } from './lottery.eligibility'
import { LotteryEntity, LotteryEntryEntity, LotteryWinnerEntity } from './lottery.entity'
import { ClaimBody, DryRunBody, EntrantsQuery, ListQuery, LotteryParams, LotterySchema, RerollBody, type LotteryConfig } from './lottery.schema'
import type { Lottery, LotteryService } from './lottery.service'

/** Lotteries are owned by the token that created them (admins' lotteries: by no one, visible to admins). */
export const LOTTERY = { kind: 'lottery' }
/**
 * Routes that only make sense once a lottery is drawn (reroll, claims) name it as a "drawn lottery": the
 * same objects and the same 404 for others, but the authorization matrix creates a drawn one to reach them.
 */
export const DRAWN_LOTTERY = { kind: 'drawn lottery' }
const ROLES = ['admin', 'owner'] as const
/** Routes naming one lottery: others' lotteries answer 404 (the HTTP adapter, through findOwned). */
const ONE = { roles: ROLES, owned: { ...LOTTERY, param: 'lotteryId' } }
const ONE_DRAWN = { roles: ROLES, owned: { ...DRAWN_LOTTERY, param: 'lotteryId' } }

/** A lottery as the API shows it (the seed only once it is revealed). */
export function view(l: Lottery): Record<string, unknown> {
  const { row, config } = l
  const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString())
  return {
    id: row.id, ownerTokenId: row.ownerTokenId, status: row.status, version: row.version, ...config,
    /** The times as instants (local times resolved in the first group's timezone). */
    schedule: { opensAt: iso(row.opensAt), closesAt: iso(row.closesAt), drawAt: iso(row.drawAt) },
    entrantCount: row.entrantCount, commitment: row.commitment, entrantsHash: row.entrantsHash, seed: row.status === 'drawn' ? row.seed : null,
    createdAt: iso(row.createdAt), updatedAt: iso(row.updatedAt), openedAt: iso(row.openedAt), closedAt: iso(row.closedAt), drawnAt: iso(row.drawnAt), cancelledAt: iso(row.cancelledAt),
  }
}

/** Refuses group ids outside an owner's groups (same words for other owners' and non-existent groups). */
function checkGroups(config: LotteryConfig, auth: Principal | null): void {
  if (!auth || auth.scope.all) return
  const outside = config.groupIds.filter((g) => !auth.scope.has(g))
  if (outside.length > 0) throw new HttpError(400, 'invalid_input', 'not one of your groups', outside.map((g) => ({ path: 'body.groupIds', message: `${g}: not one of your groups` })))
}

/** Admin routes of lotteries: create, edit (drafts), open, cancel, list, detail, entrants, proof, winners, CSV, dry run. */
export function lotteryRoutes(deps: { db: FeatureStore; service: LotteryService; pseudonym: (memberId: string) => string }): RouteDefinition[] {
  const repo = () => deps.db.repo(LotteryEntity)
  const findOwned = ({ lotteryId }: z.infer<typeof LotteryParams>) => repo().findOne({ select: { ownerTokenId: true }, where: { id: lotteryId } })
  const load = async (id: number): Promise<Lottery> => {
    const l = await deps.service.find(id)
    if (!l) throw ownedNotFound(LOTTERY.kind)
    return l
  }
  const winners = (lotteryId: number) => deps.db.repo(LotteryWinnerEntity).find({ where: { lotteryId }, order: { round: 'ASC', position: 'ASC' } })
  /** A winner; `drawId` is how the lottery's proof names them (their pseudonym, or the id in lotteries drawn before pseudonyms). */
  const winnerView = (w: LotteryWinnerEntity, drawId: (memberId: string) => string) => ({
    memberId: w.memberId, drawId: drawId(w.memberId), name: w.name, groupId: w.groupId, prize: w.prize, round: w.round, position: w.position, claimCode: w.claimCode, status: w.status,
    claimedAt: w.claimedAt === null ? null : new Date(w.claimedAt).toISOString(),
  })

  return [
    defineRoute({
      method: 'GET', path: '/api/v1/lotteries', summary: 'Lotteries, newest first (owners: their own)', query: ListQuery,
      access: { roles: ROLES, mutates: false, owned: LOTTERY },
      async handler({ query, auth }) {
        const where: Record<string, unknown> = {}
        const owner = ownerFor(auth)
        if (owner !== null) where.ownerTokenId = owner
        if (query.status) where.status = query.status
        const rows = await repo().find({ where, order: { id: 'DESC' }, take: 500 })
        const items = rows.map((row) => deps.service.parse(row)).filter((l): l is Lottery => l !== null)
        return { items: items.filter((l) => !query.groupId || l.config.groupIds.includes(query.groupId)).map(view) }
      },
    }),
    defineRoute({
      method: 'POST', path: '/api/v1/lotteries', summary: 'Create a lottery (a draft until it opens)', body: LotterySchema,
      access: { roles: ROLES, mutates: true },
      async handler({ body, auth, audit }) {
        checkGroups(body, auth)
        const l = await deps.service.create(body, ownerFor(auth))
        audit({ target: `lottery:${l.row.id}`, after: { title: l.config.title, groupIds: l.config.groupIds } })
        return view(l)
      },
    }),
    defineRoute({
      method: 'POST', path: '/api/v1/lotteries/dry-run', summary: 'Who would be eligible: an eligibility config and member states', body: DryRunBody,
      access: { roles: ROLES, mutates: false }, status: 200,
      async handler({ body }) {
        const members = body.members.map((m) => {
          const reason = ineligibility(body.eligibility, {
            id: m.id, role: m.role, joinedAt: m.joinedAt === undefined ? null : Date.parse(m.joinedAt), left: m.left, lastActiveDay: m.lastActiveDay ?? null, streak: m.streak, recentWinner: m.recentWinner,
          }, body.today)
          return { id: m.id, eligible: reason === null, reason }
        })
        return { eligible: members.filter((m) => m.eligible).map((m) => m.id), members }
      },
    }),
    defineRoute({
      method: 'GET', path: '/api/v1/lotteries/:lotteryId', summary: 'One lottery: status, entrant count, commitment, winners', params: LotteryParams,
      access: { ...ONE, mutates: false }, findOwned,
      async handler({ params }) {
        const l = await load(params.lotteryId)
        const drawId = await deps.service.drawIdsOf(l)
        return { ...view(l), winners: (await winners(l.row.id)).map((w) => winnerView(w, drawId)) }
      },
    }),
    defineRoute({
      method: 'PUT', path: '/api/v1/lotteries/:lotteryId', summary: 'Replace a draft (409 once it opened)', params: LotteryParams, body: LotterySchema,
      access: { ...ONE, mutates: true }, findOwned,
      async handler({ params, body, auth, audit }) {
        const before = await load(params.lotteryId)
        checkGroups(body, auth)
        const after = await deps.service.update(before.row.id, body)
        audit({ target: `lottery:${before.row.id}`, before: { title: before.config.title, version: before.row.version }, after: { title: after.config.title, version: after.row.version } })
        return view(after)
      },
    }),
    defineRoute({
      method: 'POST', path: '/api/v1/lotteries/:lotteryId/open', summary: 'Open a draft now (commits to a secret seed, announces)', params: LotteryParams,
      access: { ...ONE, mutates: true }, findOwned, status: 200,
      async handler({ params, audit }) {
        const l = await deps.service.open((await load(params.lotteryId)).row.id)
        audit({ target: `lottery:${l.row.id}`, before: { status: 'draft' }, after: { status: l.row.status, commitment: l.row.commitment } })
        return view(l)
      },
    }),
    defineRoute({
      method: 'POST', path: '/api/v1/lotteries/:lotteryId/cancel', summary: 'Cancel a lottery that was not drawn (entry points refunded)', params: LotteryParams,
      access: { ...ONE, mutates: true }, findOwned, status: 200,
      async handler({ params, audit }) {
        const before = await load(params.lotteryId)
        const l = await deps.service.cancel(before.row.id)
        audit({ target: `lottery:${l.row.id}`, before: { status: before.row.status }, after: { status: l.row.status } })
        return view(l)
      },
    }),
    defineRoute({
      method: 'GET', path: '/api/v1/lotteries/:lotteryId/entrants', summary: 'Entrants, paged by id (?after=<last id>&limit=)', params: LotteryParams, query: EntrantsQuery,
      access: { ...ONE, mutates: false }, findOwned,
      async handler({ params, query }) {
        const l = await load(params.lotteryId)
        const rows = await deps.db.repo(LotteryEntryEntity).find({ where: { lotteryId: l.row.id, id: MoreThan(query.after) }, order: { id: 'ASC' }, take: query.limit })
        const items = rows.map((e) => ({ id: e.id, memberId: e.memberId, name: e.name, groupId: e.groupId, method: e.method, points: e.points, at: new Date(e.at).toISOString() }))
        return { total: l.row.entrantCount, items, next: rows.length === query.limit ? rows[rows.length - 1]?.id ?? null : null }
      },
    }),
    defineRoute({
      method: 'GET', path: '/api/v1/lotteries/:lotteryId/proof', summary: 'Everything needed to recompute the draw (the seed once drawn)', params: LotteryParams,
      access: { ...ONE, mutates: false }, findOwned,
      async handler({ params }) { return deps.service.proof((await load(params.lotteryId)).row.id) },
    }),
    defineRoute({
      method: 'GET', path: '/api/v1/lotteries/:lotteryId/winners', summary: 'Winners with prizes and claim codes', params: LotteryParams,
      access: { ...ONE, mutates: false }, findOwned,
      async handler({ params }) {
        const l = await load(params.lotteryId)
        const drawId = await deps.service.drawIdsOf(l)
        return { items: (await winners(l.row.id)).map((w) => winnerView(w, drawId)) }
      },
    }),
    defineRoute({
      method: 'GET', path: '/api/v1/lotteries/:lotteryId/winners.csv', summary: 'Winners as CSV (?pseudonymise=1 writes member ids as pseudonyms, the ids of the proof)', params: LotteryParams,
      query: z.strictObject(CSV_PSEUDONYMISE), access: { ...ONE, mutates: false }, findOwned, contentType: 'text/csv; charset=utf-8',
      async handler({ params, query }) {
        const l = await load(params.lotteryId)
        return csvDocument(['member_id', 'name', 'group_id', 'prize', 'round', 'claim_code', 'status'],
          (await winners(l.row.id)).map((w) => [w.memberId, w.name, w.groupId, w.prize, w.round, w.claimCode, w.status]), csvOptions(query, deps.pseudonym))
      },
    }),
    defineRoute({
      method: 'POST', path: '/api/v1/lotteries/:lotteryId/reroll', summary: 'Reroll prizes of winners who are ineligible or did not claim in time (deterministic, recorded in the proof)',
      params: LotteryParams, body: RerollBody, access: { ...ONE_DRAWN, mutates: true }, findOwned, status: 200,
      async handler({ params, body, audit }) {
        const l = await load(params.lotteryId)
        const result = await deps.service.reroll(l.row.id, body.memberIds)
        audit({ target: `lottery:${l.row.id}`, before: { winners: result.replaced }, after: { round: result.round, winners: result.winners } })
        return result
      },
    }),
    defineRoute({
      method: 'POST', path: '/api/v1/lotteries/:lotteryId/claims', summary: 'Mark a prize claimed or fulfilled (核销) by claim code or member id',
      params: LotteryParams, body: ClaimBody, access: { ...ONE_DRAWN, mutates: true }, findOwned, status: 200,
      async handler({ params, body, audit }) {
        const l = await load(params.lotteryId)
        const w = await deps.service.claim(l.row.id, { code: body.code, memberId: body.memberId }, body.status)
        if (!w) throw new HttpError(404, 'not_found', 'no such winner')
        audit({ target: `lottery:${l.row.id}`, after: { memberId: w.memberId, status: w.status } })
        return winnerView(w, await deps.service.drawIdsOf(l))
      },
    }),
  ]
}
