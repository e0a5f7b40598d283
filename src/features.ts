import type { FeatureDefinition } from './kernel/feature'
import type { FeatureDeps } from './app/feature-deps'
import { groupsFeature } from './features/groups'
import { activityFeature } from './features/activity'
import { checkInFeature } from './features/check-in'
import { autoReplyFeature } from './features/auto-reply'

/**
 * The ordered feature registry = the pipeline order (after the per-feature error boundaries):
 * groups → activity → (moderation) → check-in → (lottery) → auto-reply. Moderation and lottery slot in where
 * shown as they land: moderation must run before everything that answers.
 */
export const FEATURES: ReadonlyArray<FeatureDefinition<FeatureDeps, unknown>> = [
  groupsFeature as FeatureDefinition<FeatureDeps, unknown>,
  activityFeature as FeatureDefinition<FeatureDeps, unknown>,
  checkInFeature as FeatureDefinition<FeatureDeps, unknown>,
  autoReplyFeature as FeatureDefinition<FeatureDeps, unknown>,
]
