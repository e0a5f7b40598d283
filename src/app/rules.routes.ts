import { z } from 'zod'
import { defineRoute, groupNotFound, HttpError, type RouteDefinition } from '../kernel/routes'
import { ruleProblems, type RuleStore } from './rules'

const Params = z.strictObject({ id: z.string().min(1).max(191) })
const FeatureParams = z.strictObject({ id: z.string().min(1).max(191), feature: z.string().regex(/^[a-z][a-z0-9-]{0,63}$/) })

/** Generic rule routes: read a group's validated rules; replace one feature's slice (through that feature's one write path: schema, reference checks, version). */
export function rulesRoutes(rules: RuleStore, groupExists: (id: string) => Promise<boolean>): RouteDefinition[] {
  return [
    defineRoute({
      method: 'GET', path: '/api/v1/groups/:id/rules', summary: "A group's effective rules, per feature (rule pack + its own changes)",
      params: Params, access: { roles: ['admin', 'owner', 'operator'], groupParam: 'id', mutates: false },
      async handler({ params }) {
        if (!(await groupExists(params.id))) throw groupNotFound()
        const set = await rules.forGroup(params.id)
        return { groupId: params.id, version: set.version, rules: Object.fromEntries(rules.features().map((f) => [f, set.slice(f)])) }
      },
    }),
    defineRoute({
      method: 'PUT', path: '/api/v1/groups/:id/rules/:feature', summary: "Replace one feature's rules for a group (validated; takes effect on every replica)",
      params: FeatureParams, body: z.record(z.string(), z.unknown()), access: { roles: ['admin', 'owner'], groupParam: 'id', mutates: true },
      async handler({ params, body, auth, audit }) {
        if (!(await groupExists(params.id))) throw groupNotFound()
        if (!rules.features().includes(params.feature)) throw new HttpError(404, 'not_found', `no feature "${params.feature}" with rules`)
        // The feature's one write path: the same checks and the same version record as its own routes.
        const saved = await rules.set(params.id, params.feature, body, { by: auth }).catch((error: unknown) => { throw ruleProblems(error, 'body') })
        audit({ groupId: params.id, target: `rules:${params.feature}`, before: saved.before, after: saved.value })
        return { groupId: params.id, feature: params.feature, version: saved.version, rules: saved.value }
      },
    }),
  ]
}
