import { z } from 'zod'
import type { GroupRecord } from './context'
import { defineRoute, GroupParams, groupNotFound, HttpError, type RouteDefinition } from './routes'
import { ruleDetails, RuleValidationError, type RuleStore } from './rules'

const READ = { roles: ['admin', 'owner', 'operator'] as const, groupParam: 'id', mutates: false }
const WRITE = { roles: ['admin', 'owner'] as const, groupParam: 'id', mutates: true }
const NoteQuery = z.strictObject({ note: z.string().max(200).optional() })

/** A rule error as the API's 400; anything else unchanged. */
export function asHttpError(error: unknown, prefix: string, message = 'invalid rules'): unknown {
  return error instanceof RuleValidationError ? new HttpError(400, 'invalid_input', message, ruleDetails(error, prefix)) : error
}

/**
 * The one schema-driven rules API, mounted for every feature with rules: read, write (the feature's real
 * zod schema is the request body, so the OpenAPI document and the dashboard's forms show real shapes),
 * versions, diff, rollback and — where the feature offers one — a dry run.
 */
export function rulesRoutes(store: RuleStore, findGroup: (id: string) => Promise<GroupRecord | null>): RouteDefinition[] {
  const group = async (id: string): Promise<GroupRecord> => {
    const found = await findGroup(id)
    if (!found) throw groupNotFound()
    return found
  }
  const routes: RouteDefinition[] = [
    defineRoute({
      method: 'GET', path: '/api/v1/groups/:id/rules', summary: "A group's effective rules, per feature (rule pack + its own changes)",
      params: GroupParams, access: READ,
      async handler({ params }) {
        await group(params.id)
        const set = await store.forGroup(params.id)
        return { groupId: params.id, version: set.version, rules: Object.fromEntries(store.features().map((f) => [f, set.slice(f)])) }
      },
    }),
  ]
  for (const feature of store.features()) {
    const spec = store.spec(feature)
    if (!spec) continue
    const base = `/api/v1/groups/:id/rules/${feature}`
    routes.push(
      defineRoute({
        method: 'GET', path: base, summary: `The group's ${feature} rules and their version`, params: GroupParams, access: READ,
        async handler({ params }) {
          await group(params.id)
          return { groupId: params.id, feature, version: await store.latest(params.id, feature), rules: (await store.forGroup(params.id)).slice(feature) }
        },
      }),
      defineRoute({
        method: 'PUT', path: base, summary: `Replace the group's ${feature} rules (validated, checked, a new version; live on every replica)`,
        params: GroupParams, query: NoteQuery, body: spec.schema, access: WRITE,
        async handler({ params, query, body, auth, audit }) {
          await group(params.id)
          const saved = await store.write(params.id, feature, body, { by: auth, note: query.note }).catch((error: unknown) => { throw asHttpError(error, 'body') })
          audit({ groupId: params.id, target: `rules:${feature}:v${saved.version}`, before: saved.before, after: saved.value })
          return { groupId: params.id, feature, version: saved.version, rules: saved.value }
        },
      }),
      defineRoute({
        method: 'GET', path: `${base}/versions`, summary: `Every version of the group's ${feature} rules (newest first)`, params: GroupParams, access: READ,
        async handler({ params }) {
          await group(params.id)
          const rows = await store.versions(params.id, feature)
          return { items: rows.map((r) => ({ version: r.version, author: r.author, note: r.note, at: new Date(r.at).toISOString() })) }
        },
      }),
      defineRoute({
        method: 'GET', path: `${base}/diff`, summary: `What changed between two versions of the ${feature} rules (0 = the defaults)`, params: GroupParams,
        query: z.strictObject({ from: z.coerce.number().int().min(0), to: z.coerce.number().int().min(0) }), access: READ,
        async handler({ params, query }) {
          await group(params.id)
          const result = await store.diff(params.id, feature, query.from, query.to)
          if ('missing' in result) throw new HttpError(404, 'not_found', `no version ${result.missing}`)
          return { from: query.from, to: query.to, changes: result.changes }
        },
      }),
      defineRoute({
        method: 'POST', path: `${base}/rollback`, summary: `Make an earlier version of the ${feature} rules live again (as a new version)`, params: GroupParams,
        body: z.strictObject({ version: z.int().min(1), note: z.string().max(200).optional() }), access: WRITE, status: 200,
        async handler({ params, body, auth, audit }) {
          await group(params.id)
          const saved = await store.rollback(params.id, feature, body.version, { by: auth, note: body.note }).catch((error: unknown) => { throw asHttpError(error, 'body.version', 'that version can no longer be used') })
          if (!saved) throw new HttpError(404, 'not_found', `no version ${body.version}`)
          audit({ groupId: params.id, target: `rules:${feature}:v${saved.version}`, before: saved.before, after: saved.value })
          return { groupId: params.id, feature, version: saved.version, rules: saved.value }
        },
      }),
    )
    const dryRun = spec.dryRun
    if (dryRun) {
      routes.push(defineRoute({
        method: 'POST', path: `${base}/dry-run`, summary: `What the ${feature} rules would do with a message — nothing is sent or counted`,
        params: GroupParams, body: dryRun.body, access: READ, status: 200,
        async handler({ params, body, auth }) {
          const g = await group(params.id)
          const rules = (await store.forGroup(params.id)).slice(feature)
          return dryRun.run({ group: g, rules, body, caller: auth })
        },
      }))
    }
  }
  return routes
}
