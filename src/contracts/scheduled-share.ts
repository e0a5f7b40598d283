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
