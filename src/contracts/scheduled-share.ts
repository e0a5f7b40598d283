import { serviceKey } from '../kernel/feature'
import { defineEvent } from '../kernel/events'

/**
 * A scheduled share was posted in a group (the platform confirmed the text). Stats count posts per topic
 * and measure post lift from it; tagging may react to it. `id` is `share.posted:<sendId>`.
 */
export const SharePosted = defineEvent<{
  botId: string
  groupId: string
  scheduleId: number
  /** The delivery-log row of this send. */
  sendId: number
  postId: number
  /** The post's tags (topics) when it was sent. */
  tags: string[]
  /** The run's fire time (ms); `at` is when the platform confirmed it. */
  fireAt: number
}>()('share.posted')

/** Post lift of one schedule over observation windows that closed in a period (see the scheduled-share README section). */
export interface ScheduleLift {
  scheduleId: number
  name: string
  /** Groups with at least one window. */
  groups: number
  /** Windows after a post / on runs without a post (the baseline). */
  postWindows: number
  baselineWindows: number
  /** Average messages and distinct members in the 30 minutes after a post, and in baseline windows. */
  avgMessagesAfterPost: number | null
  avgMessagesBaseline: number | null
  avgMembersAfterPost: number | null
  avgMembersBaseline: number | null
  /** avgAfterPost ÷ avgBaseline (null without a baseline or with a zero one). */
  liftMessages: number | null
  liftMembers: number | null
}

/** Post lift per schedule, for reports (the stats feature's overview and post-lift report). */
export interface ShareLift {
  /**
   * Lift of the schedules `canSee` allows (by their owner) over windows in `groupIds` (or every group)
   * that closed in [fromMs, toMs) and before now; most post windows first.
   */
  lift(scope: { all: true } | { all: false; groupIds: readonly string[] }, fromMs: number, toMs: number, canSee: (ownerTokenId: number | null) => boolean): Promise<ScheduleLift[]>
}

/** The post-lift service (provided by the scheduled-share feature). */
export const SHARE_LIFT = serviceKey<ShareLift>('share.lift')
