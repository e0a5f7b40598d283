import { defineEvent } from '../kernel/events'

/** A message broke a group rule (live or in shadow mode), and what followed. */
export const RuleViolated = defineEvent<{
  botId: string
  groupId: string
  memberId: string
  messageId: string
  /** Detectors that matched (words, links, qr …). */
  detectors: string[]
  /** The step taken: warn, final_warning, remove, record, none. */
  action: string
  strike: number | null
  shadow: boolean
}>()('rule.violated')

/**
 * An owner marked a moderation event (one detector's hit on a message) as a false positive. Stats count
 * reversals per rule. `id` is `moderation.reversed:<groupId>:<messageId>:<detector>`, so marking twice (or
 * marking another list's row of the same message and detector) is one reversal.
 */
export const ModerationReversed = defineEvent<{
  botId?: string
  groupId: string
  memberId: string
  /** The moderation event row marked. */
  eventId: number
  /** Its detector (the rule that fired). */
  detector: string
  /** The action that was taken (warn, remove …) and whether it ran in shadow mode. */
  action: string
  shadow: boolean
  /** When the violation happened (ms): the reversal counts on that local day. */
  violationAt: number
}>()('moderation.reversed')
