import { defineFeature, type Feature } from '../adapters/db/feature-store'
import { MemberLifecycleChanged } from '../contracts/tagging'
import { OutboundFinished } from '../kernel/events'

/** What a bot action was for, as the simulation tallies it. */
export type BotActionKind =
  | 'welcome' | 'check-in' | 'make-up' | 'check-in reply' | 'auto-reply'
  | 'warning' | 'final warning' | 'removal' | 'removal notice' | 'direct message'
  | 'lottery entry' | 'lottery draw' | 'lottery notice' | 'topic share' | 'other'

/** Which kind an action's note names (notes start with what the action was for). */
const KINDS: ReadonlyArray<[RegExp, BotActionKind]> = [
  [/^welcome\b/, 'welcome'],
  [/^check-ins? answered\b/, 'check-in'],
  [/^make-up day accepted\b/, 'make-up'],
  [/^(check-in reply|leaderboard|make-up refused|make-up usage|check-in reminder)\b/, 'check-in reply'],
  [/^auto-reply\b/, 'auto-reply'],
  [/^warning\b/, 'warning'],
  [/^final warning\b/, 'final warning'],
  [/^removed\b/, 'removal'],
  [/^removal announced\b/, 'removal notice'],
  [/^owner told\b/, 'direct message'],
  [/^lottery \S+ entry confirmed\b/, 'lottery entry'],
  [/^lottery \S+ drawn\b/, 'lottery draw'],
  [/^lottery \S+ (opened|closed|cancelled|reminder)\b/, 'lottery notice'],
  [/^share post\b/, 'topic share'],
]

/** The kind of action a note describes. */
export function actionKind(note: string | undefined): BotActionKind {
  for (const [pattern, kind] of KINDS) if (note && pattern.test(note)) return kind
  return 'other'
}

/**
 * Counts what the simulated community's bot actually did, by what it was for, from the outbound queue's
 * outcomes (every action carries a note; the queue itself logs one `bot action: …` line per action), and
 * tells the lifecycle moves members make (joined → new, left → churned, dormant → returned; a member's
 * first message is counted, not told, so the log stays readable). Ids only, never names or text.
 */
export class Narrator {
  /** Actions performed so far, by kind. */
  readonly tally = new Map<BotActionKind, number>()
  /** Lifecycle changes seen so far, by `from→to`. */
  readonly lifecycle = new Map<string, number>()


  /** The narrator as a feature (it only listens). */
  feature(): Feature {
    return defineFeature({
      name: 'simulation-narrator',
      events: { consumes: [OutboundFinished, MemberLifecycleChanged] },
      // The feature's logger: the runtime's, which writes member ids as pseudonyms.
      setup: (app) => ({
        onEvent: (event) => {
          if (MemberLifecycleChanged.is(event)) {
            const move = `${event.from ?? '-'}→${event.to}`
            this.lifecycle.set(move, (this.lifecycle.get(move) ?? 0) + 1)
            if (event.reason !== 'spoke' || event.from !== null) {
              app.log.info(`member lifecycle: ${move} (${event.reason})`, { group: event.groupId, member: event.memberId })
            }
            return
          }
          if (!OutboundFinished.is(event) || event.status !== 'sent') return
          const kind = actionKind(event.note)
          this.tally.set(kind, (this.tally.get(kind) ?? 0) + 1)
        },
      }),
    })
  }
}
