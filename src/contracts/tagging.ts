import { defineEvent } from '../kernel/events'
import { serviceKey } from '../kernel/feature'

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
 * Engagement signals of features that do not have their own contract yet. The tagging feature consumes them
 * by name and reads only `groupId`, `memberId` and `id`; a feature emitting one declares it in its own
 * contract with the same type and at least these fields, and this declaration goes. A member replied to a
 * topic share.
 */
export const ShareReplied = defineEvent<{ botId: string; groupId: string; memberId: string }>()('share.replied')

/** How many members of a group are in one lifecycle state. */
export interface LifecycleCount { groupId: string; state: LifecycleState; members: number }

/** Lifecycle facts for other features (the stats feature seeds its lifecycle mix from them). */
export interface LifecycleFacts {
  /**
   * Members per group and lifecycle state right now (what the message path decided is written first);
   * one group or all of them. States without members are left out.
   */
  stateCounts(groupId?: string): Promise<LifecycleCount[]>
}

/** The lifecycle facts service (provided by the tagging feature). */
export const LIFECYCLE = serviceKey<LifecycleFacts>('tagging.lifecycle')
