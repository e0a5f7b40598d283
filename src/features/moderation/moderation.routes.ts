import type { FeatureStore } from '../../adapters/db/feature-store'
import type { GroupRecord } from '../../kernel/context'
import type { EventEmitter, FeatureRules } from '../../kernel/feature'
import type { RouteDefinition } from '../../kernel/routes'
import type { RuleDryRun } from '../../kernel/rules'
import type { Clock } from '../../ports/clock'
import type { StrikeBook } from './moderation.enforce'
import { moderationEventRoutes } from './moderation.events.routes'
import type { WordLists } from './moderation.lists'
import { wordListRoutes } from './moderation.lists.routes'
import type { ModerationRule } from './moderation.rules'
import { moderationRuleRoutes } from './moderation.rules.routes'
import type { DryRunInput } from './moderation.schema'

/** Admin routes of moderation: its rules (doors to the one rules path), events and strikes, word lists. */
export function moderationRoutes(deps: {
  db: FeatureStore
  clock: Clock
  rules: FeatureRules<ModerationRule>
  dryRun: RuleDryRun<ModerationRule, DryRunInput>
  lists: WordLists
  book: StrikeBook
  findGroup: (id: string) => Promise<GroupRecord | null>
  events: EventEmitter
}): RouteDefinition[] {
  return [...moderationRuleRoutes(deps), ...moderationEventRoutes(deps), ...wordListRoutes(deps)]
}
