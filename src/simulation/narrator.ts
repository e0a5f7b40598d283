import { defineFeature, type FeatureDeps } from '../app/feature-deps'
import type { OutboundAction } from '../kernel/context'
import type { DomainEvent, EventOf } from '../kernel/events'
import type { FeatureDefinition } from '../kernel/feature'
import type { Logger } from '../kernel/logger'

/** What a bot action was for, as the narrator tells it. */
export type BotActionKind =
  | 'welcome' | 'check-in' | 'make-up' | 'check-in reply' | 'auto-reply'
  | 'warning' | 'final warning' | 'removal' | 'removal notice' | 'direct message' | 'other'

/** What the pipeline decided about one message (kept until the actions it caused are sent). */
interface MessageFacts {
  feature: string
  violation?: EventOf<'rule.violated'>
  checkIn?: EventOf<'checkin.completed'>
}

/** Bound on remembered messages, newcomers and check-ins, so a long simulation does not grow memory. */
const REMEMBER = 2_000

/** Adds to a bounded map, dropping the oldest entry when full. */
function remember<K, V>(map: Map<K, V>, key: K, value: V): void {
  map.delete(key)
  map.set(key, value)
  if (map.size > REMEMBER) map.delete(map.keys().next().value as K)
}

/**
 * Tells, one short info line per action the bot actually performed, what the simulated community's bot
 * did and why — `bot action: welcome (2 newcomers)`, `bot action: check-in answered (streak 3)`,
 * `bot action: auto-reply (rule 价格)`, `bot action: warning (strike 1, links)`, `bot action: removed
 * (strike 3, words)` — never message text. It watches as a feature: after the chain (which feature
 * handled a message and the events it emitted), join events, and the outcome of every outbound action.
 */
export class Narrator {
  /** Actions performed so far, by kind. */
  readonly tally = new Map<BotActionKind, number>()
  private readonly facts = new Map<string, MessageFacts>()
  private readonly newcomers = new Map<string, true>()
  private readonly checkIns = new Map<string, number>()

  /** `answers`: auto-reply answer texts → rule names, to name the rule that answered. */
  constructor(private readonly answers: ReadonlyMap<string, string> = new Map()) {}

  /** The narrator as a feature: place it first in the registry, so its middleware sees the whole chain. */
  feature(): FeatureDefinition<FeatureDeps, unknown> {
    return defineFeature({
      name: 'simulation-narrator',
      setup: (deps) => {
        const log = deps.log.child({ simulation: true })
        const stop = deps.onOutboundOutcome((outcome) => {
          if (outcome.status === 'sent') this.told(outcome.action, log)
        })
        return {
          middleware: async (ctx, next) => {
            await next()
            if (!ctx.handledBy) return
            const violation = ctx.events.find((e): e is EventOf<'rule.violated'> => e.type === 'rule.violated')
            const checkIn = ctx.events.find((e): e is EventOf<'checkin.completed'> => e.type === 'checkin.completed')
            remember(this.facts, ctx.message.id, { feature: ctx.handledBy, violation, checkIn })
            // A first check-in is answered without a reference to its message (answers are batched).
            if (checkIn?.kind === 'normal') remember(this.checkIns, `${checkIn.groupId}|${checkIn.memberId}`, checkIn.streak)
          },
          onEvent: (event: DomainEvent) => {
            if (event.type !== 'member.joined') return
            for (const m of event.members) if (m.role !== 'bot') remember(this.newcomers, `${event.groupId}|${m.id}`, true)
          },
          stop: async () => { stop() },
        }
      },
    }) as FeatureDefinition<FeatureDeps, unknown>
  }

  private told(action: OutboundAction, log: Logger): void {
    const { kind, text } = this.describe(action)
    this.tally.set(kind, (this.tally.get(kind) ?? 0) + 1)
    log.info(`bot action: ${text}`, { group: 'groupId' in action ? action.groupId : undefined })
  }

  private describe(a: OutboundAction): { kind: BotActionKind; text: string } {
    const facts = a.cause ? this.facts.get(a.cause) : undefined
    switch (a.kind) {
      case 'remove': return { kind: 'removal', text: `removed (${strikeOf(facts?.violation)})` }
      case 'sayDirect': return { kind: 'direct message', text: 'direct message (the owner is told about a failed removal)' }
      case 'say': case 'sayCard': case 'sayImage':
        if (facts) return this.reply(facts, a)
        return this.announcement(a.groupId, a.kind === 'say' ? a.mentions ?? [] : [])
      default: return { kind: 'other', text: a.kind }
    }
  }

  /** A reply to a member's message: which feature answered, and with what. */
  private reply(facts: MessageFacts, a: OutboundAction): { kind: BotActionKind; text: string } {
    const v = facts.violation
    if (facts.feature === 'moderation' && v) {
      if (v.action === 'warn') return { kind: 'warning', text: `warning (${strikeOf(v)})` }
      if (v.action === 'final_warning') return { kind: 'final warning', text: `final warning (${strikeOf(v)})` }
      if (v.action === 'remove') return { kind: 'removal notice', text: `removal announced (${strikeOf(v)})` }
    }
    if (facts.feature === 'check-in') {
      if (facts.checkIn?.kind === 'makeup') {
        // Until today is checked in too, a made-up day may not reach today's streak yet.
        const streak = facts.checkIn.streak > 0 ? ` (streak ${facts.checkIn.streak})` : ''
        return { kind: 'make-up', text: `make-up day accepted${streak}` }
      }
      return { kind: 'check-in reply', text: 'check-in reply (already checked in, leaderboard or make-up)' }
    }
    if (facts.feature === 'auto-reply') {
      const rule = a.kind === 'say' ? this.answers.get(a.text) : undefined
      return { kind: 'auto-reply', text: rule ? `auto-reply (rule ${rule})` : 'auto-reply' }
    }
    return { kind: 'other', text: `reply (${facts.feature})` }
  }

  /** A message not answering one message: a welcome, or (batched) check-in answers. */
  private announcement(groupId: string, mentions: string[]): { kind: BotActionKind; text: string } {
    const keys = mentions.map((id) => `${groupId}|${id}`)
    if (keys.length > 0 && keys.every((k) => this.checkIns.has(k))) {
      const streaks = keys.map((k) => this.checkIns.get(k) as number)
      for (const k of keys) this.checkIns.delete(k)
      const [low, high] = [Math.min(...streaks), Math.max(...streaks)]
      const range = low === high ? `streak ${low}` : `streaks ${low}–${high}`
      const text = streaks.length === 1 ? `check-in answered (${range})` : `check-ins answered (${streaks.length} members, ${range})`
      return { kind: 'check-in', text }
    }
    if (keys.length > 0 && keys.every((k) => this.newcomers.has(k))) {
      for (const k of keys) this.newcomers.delete(k)
      return { kind: 'welcome', text: `welcome (${keys.length} newcomer${keys.length === 1 ? '' : 's'})` }
    }
    return { kind: 'other', text: 'announcement' }
  }
}

/** "strike 2, words" from a violation (which rule, never the matched text). */
function strikeOf(v: EventOf<'rule.violated'> | undefined): string {
  if (!v) return 'strike ?'
  return `strike ${v.strike ?? '?'}, ${v.detectors.join('+')}`
}
