import { defineEvent } from '../kernel/events'

/** Where a member stands in a group's lifecycle. */
export type LifecycleState = 'new' | 'active' | 'dormant' | 'churned' | 'returned'

/** Every lifecycle state, in the order of a member's usual path. */
export const LIFECYCLE_STATES: readonly LifecycleState[] = ['new', 'active', 'dormant', 'churned', 'returned']

/**
 * A member's lifecycle state in a group changed (emitted by the tagging feature). `from` is null when the
 * member is first seen. `at` is when the change took effect (the message, the join, the daily job).
 */
export const MemberLifecycleChanged = defineEvent<{
  botId: string
  groupId: string
  memberId: string
  from: LifecycleState | null
  to: LifecycleState
  /** Why: 'joined', 'spoke', 'silent', 'left', 'settled' (new/returned → active). */
  reason: string
}>()('member.lifecycle_changed')

/**
 * Engagement signals other features may emit (a lottery entry, a reply to a topic share). The tagging
 * feature consumes them by name and reads only `groupId`, `memberId` and `id`; a feature emitting them
 * declares the kind here (or its own kind with the same type and at least these fields).
 */
export const LotteryEntered = defineEvent<{ botId: string; groupId: string; memberId: string }>()('lottery.entered')
/** A member replied to a topic share. */
export const ShareReplied = defineEvent<{ botId: string; groupId: string; memberId: string }>()('share.replied')
