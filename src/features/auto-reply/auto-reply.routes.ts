import type { FeatureStore } from '../../adapters/db/feature-store'
import type { GroupRecord } from '../../kernel/context'
import type { FeatureRules } from '../../kernel/feature'
import type { RouteDefinition } from '../../kernel/routes'
import type { Clock } from '../../ports/clock'
import { csvRoutes } from './auto-reply.csv.routes'
import { groupRoutes } from './auto-reply.group.routes'
import type { Responder } from './auto-reply.responder'
import type { AutoReplyGroup } from './auto-reply.rules'
import { ruleRoutes } from './auto-reply.rules.routes'
import type { AutoReplyStore } from './auto-reply.store'

/** Admin routes of auto-reply: CRUD, enable/disable, reorder, CSV import/export, dry-run, hit stats. */
export function autoReplyRoutes(deps: {
  db: FeatureStore
  clock: Clock
  store: AutoReplyStore
  responder: Responder
  rules: FeatureRules<AutoReplyGroup>
  findGroup: (id: string) => Promise<GroupRecord | null>
}): RouteDefinition[] {
  // The CSV routes' fixed paths (/auto-replies/export.csv) go before /auto-replies/:ruleId, which would
  // otherwise take them (the router tries routes in order).
  return [...csvRoutes(deps), ...ruleRoutes(deps), ...groupRoutes(deps)]
}
