import type { Feature } from './adapters/db/feature-store'
import { accessFeature } from './features/access'
import { activityFeature } from './features/activity'
import { autoReplyFeature } from './features/auto-reply'
import { checkInFeature } from './features/check-in'
import { groupsFeature } from './features/groups'
import { lotteryFeature } from './features/lottery'
import { moderationFeature } from './features/moderation'
import { scheduledShareFeature } from './features/scheduled-share'
import { statsFeature } from './features/stats'
import { taggingFeature } from './features/tagging'

/**
 * The ordered feature registry = the pipeline order (each step has its own error boundary):
 * groups → activity → stats → tagging → scheduled-share → moderation → check-in → lottery → auto-reply.
 * Stats, tagging and scheduled-share (post lift) observe every message (a dormant member's return counts
 * even when the message is a command another feature handles). Moderation runs before everything
 * that answers, so a message it acted on is never answered. Features without a message step (access)
 * may sit anywhere; setup order follows the services they inject, not this list.
 * Adding a feature: its folder, and one line here.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- features of different rule and config types side by side; each is type-checked in its own folder
export const FEATURES: ReadonlyArray<Feature<any, any>> = [
  groupsFeature,
  accessFeature,
  activityFeature,
  statsFeature,
  taggingFeature,
  scheduledShareFeature,
  moderationFeature,
  checkInFeature,
  lotteryFeature,
  autoReplyFeature,
]
