import type { FeatureDefinition } from './kernel/feature'
import type { FeatureDeps } from './app/feature-deps'
import { groupsFeature } from './features/groups'
import { activityFeature } from './features/activity'
import { moderationFeature } from './features/moderation'
import { checkInFeature } from './features/check-in'
import { autoReplyFeature } from './features/auto-reply'

/**
 * The ordered feature registry = the pipeline order (after the per-feature error boundaries):
 * groups → activity → moderation → check-in → (lottery) → auto-reply. Moderation runs before everything
 * that answers, so a message it acted on is never answered.
 */
export const FEATURES: ReadonlyArray<FeatureDefinition<FeatureDeps, unknown>> = [
  groupsFeature as FeatureDefinition<FeatureDeps, unknown>,
  activityFeature as FeatureDefinition<FeatureDeps, unknown>,
  moderationFeature as FeatureDefinition<FeatureDeps, unknown>,
  checkInFeature as FeatureDefinition<FeatureDeps, unknown>,
  autoReplyFeature as FeatureDefinition<FeatureDeps, unknown>,
]
