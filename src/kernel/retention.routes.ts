import { z } from 'zod'
import type { Principal } from './auth'
import { DATA_CLASSES, type DataClass } from './personal-data'
import { OWNER_CLASSES, PolicyError, type OwnerRetention, type RetentionService } from './retention'
import { defineRoute, HttpError, type RouteDefinition } from './routes'

/** Days of a policy value: a whole number of days, or null to drop the value (back to the level below). */
const Days = z.int().min(1).max(36_500).nullable()

/** A policy change: some owner-settable classes, each days or null. */
export const RetentionPolicyBody = z.strictObject(Object.fromEntries(OWNER_CLASSES.map((c) => [c, Days.optional()])) as Record<DataClass, z.ZodOptional<typeof Days>>)
  .refine((b) => Object.values(b).some((v) => v !== undefined), 'name at least one data class')

const TokenParams = z.strictObject({ tokenId: z.coerce.number().int().min(1).max(2_147_483_647) })
const RunsQuery = z.strictObject({
  class: z.enum(DATA_CLASSES).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(20),
})
const RunBody = z.strictObject({ class: z.enum(DATA_CLASSES), dryRun: z.boolean().default(false) })

/** A policy error as the API's 400, one detail per class. */
function asHttp(error: unknown): unknown {
  return error instanceof PolicyError
    ? new HttpError(400, 'invalid_input', 'retention out of range', error.problems.map((p) => ({ path: `body.${p.dataClass}`, message: p.message })))
    : error
}

/** An owner's policy as the API shows it. */
function view(ownerTokenId: number, classes: OwnerRetention[]) {
  return { ownerTokenId, classes }
}

/**
 * Retention routes: the deployment's defaults (everyone), an owner's own policy (owners: read and shorten),
 * any owner's policy (admins: set per-owner defaults up to the deployment maximum), and the purge runs
 * (admins: the latest, and a run now — dry by choice).
 */
export function retentionRoutes(service: RetentionService, tokenExists: (tokenId: number) => Promise<boolean>): RouteDefinition[] {
  const owner = async (tokenId: number): Promise<number> => {
    if (!(await tokenExists(tokenId))) throw new HttpError(404, 'not_found', 'no such token')
    return tokenId
  }
  const self = (auth: Principal | null): number => {
    if (!auth) throw new HttpError(401, 'unauthorized', 'a token is required')
    return auth.tokenId
  }
  return [
    defineRoute({
      method: 'GET', path: '/api/v1/retention', summary: 'How long each data class is kept by default, the most a policy may set, and whether owners may set it',
      access: { roles: ['admin', 'owner', 'operator'], mutates: false },
      async handler() {
        const { classes, purgeCron } = service.settings
        return {
          purgeCron,
          classes: DATA_CLASSES.map((c) => ({ dataClass: c, days: classes[c].days, maxDays: classes[c].maxDays, perOwner: OWNER_CLASSES.includes(c) && classes[c].days !== null })),
        }
      },
    }),
    defineRoute({
      method: 'GET', path: '/api/v1/retention/policy', summary: "The caller's retention per data class (owner's own, admin's per-owner default, or the deployment's)",
      access: { roles: ['owner'], mutates: false },
      async handler({ auth }) {
        const id = self(auth)
        return view(id, await service.forOwner(id))
      },
    }),
    defineRoute({
      method: 'PUT', path: '/api/v1/retention/policy', summary: "Set the caller's own retention per data class (at most the admin's value for them, or the deployment maximum; null drops it)",
      body: RetentionPolicyBody, access: { roles: ['owner'], mutates: true },
      async handler({ auth, body, audit }) {
        const id = self(auth)
        const before = await service.forOwner(id)
        const after = await service.setPolicy(id, 'owner', body, id).catch((e: unknown) => { throw asHttp(e) })
        audit({ target: `retention:owner:${id}`, before: Object.fromEntries(Object.keys(body).map((c) => [c, before.find((r) => r.dataClass === c)?.ownerDays ?? null])), after: body })
        return view(id, after)
      },
    }),
    defineRoute({
      method: 'GET', path: '/api/v1/retention-policies/:tokenId', summary: "An owner's retention per data class and where each value comes from",
      params: TokenParams, access: { roles: ['admin'], mutates: false },
      async handler({ params }) {
        const id = await owner(params.tokenId)
        return view(id, await service.forOwner(id))
      },
    }),
    defineRoute({
      method: 'PUT', path: '/api/v1/retention-policies/:tokenId', summary: "Set an owner's default retention per data class (at most the deployment maximum; null drops it)",
      params: TokenParams, body: RetentionPolicyBody, access: { roles: ['admin'], mutates: true },
      async handler({ params, auth, body, audit }) {
        const id = await owner(params.tokenId)
        const before = await service.forOwner(id)
        const after = await service.setPolicy(id, 'admin', body, auth?.tokenId ?? null).catch((e: unknown) => { throw asHttp(e) })
        audit({ target: `retention:admin:${id}`, before: Object.fromEntries(Object.keys(body).map((c) => [c, before.find((r) => r.dataClass === c)?.adminDays ?? null])), after: body })
        return view(id, after)
      },
    }),
    defineRoute({
      method: 'GET', path: '/api/v1/retention/runs', summary: 'The latest purge runs (rows deleted and cleared per table; counts only)',
      query: RunsQuery, access: { roles: ['admin'], mutates: false },
      async handler({ query }) {
        return { runs: await service.runs(query.limit, query.class) }
      },
    }),
    defineRoute({
      method: 'POST', path: '/api/v1/retention/runs', summary: 'Purge one data class now (or count what would go, with dryRun)',
      body: RunBody, access: { roles: ['admin'], mutates: true },
      async handler({ body, audit }) {
        const run = await service.purge(body.class, { source: 'api', dryRun: body.dryRun })
        audit({ target: `retention:run:${body.class}`, after: { dryRun: run.dryRun, deleted: run.deleted, cleared: run.cleared } })
        return run
      },
    }),
  ]
}
