import { z } from 'zod'
import { defineRoute, groupNotFound, HttpError, type RouteDefinition } from '../kernel/routes'
import { RuleValidationError, type RuleStore } from './rules'

const Params = z.strictObject({ id: z.string().min(1).max(191) })
const FeatureParams = z.strictObject({ id: z.string().min(1).max(191), feature: z.string().regex(/^[a-z][a-z0-9-]{0,63}$/) })

/** Generic rule routes: read a group's validated rules; replace one feature's slice (validated by that feature's schema). */
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
      async handler({ params, body, audit }) {
        if (!(await groupExists(params.id))) throw groupNotFound()
        if (!rules.features().includes(params.feature)) throw new HttpError(404, 'not_found', `no feature "${params.feature}" with rules`)
        const before = (await rules.forGroup(params.id)).slice(params.feature)
        try {
          const after = await rules.set(params.id, params.feature, body)
          audit({ groupId: params.id, target: `rules:${params.feature}`, before, after })
          return { groupId: params.id, feature: params.feature, rules: after }
        } catch (error) {
          if (error instanceof RuleValidationError) throw new HttpError(400, 'invalid_input', 'invalid rules', error.problems.map((p) => ({ path: `body.${p.path.split('.').slice(1).join('.')}`.replace(/\.$/, ''), message: p.message })))
          throw error
        }
      },
    }),
  ]
}
