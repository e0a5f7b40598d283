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
