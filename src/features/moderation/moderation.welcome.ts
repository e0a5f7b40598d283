import type { FeatureStore } from '../../adapters/db/feature-store'
import { HeldAnswers } from '../../adapters/db/held-answers'
import { defineEvent, type EventOfKind, type MemberJoined } from '../../kernel/events'
import type { Logger } from '../../kernel/logger'
import type { Outbound } from '../../kernel/outbound-service'
import { renderTemplate } from '../../kernel/template'
import type { Clock } from '../../ports/clock'
import { WelcomeEntity } from './moderation.entity'
import type { ModerationRule } from './moderation.rules'

/** A welcome window came due here: it closes in the processor's order. Internal to the feature. */
export const WelcomeDue = defineEvent<{ groupId: string; windowKey: string }>()('moderation.welcomeDue')

/**
 * Welcomes newcomers: joins within `welcome.windowSeconds` are greeted in one message that @-mentions
 * all of them and summarises the group rules, instead of one message per person. Every newcomer is stored
 * (qy_moderation_welcome) before the join is acknowledged and greeted once: a window a kill -9 left open
 * is sent by the sweep after the restart or on the replica taking the bot over.
 */
export class Welcomer {
  readonly held: HeldAnswers

  constructor(private readonly deps: { db: FeatureStore; clock: Clock; outbound: Outbound; log: Logger; rules: (groupId: string) => Promise<ModerationRule>; groupName: (groupId: string) => Promise<string>; closeDue: (windowKey: string, groupId: string) => void }) {
    this.held = new HeldAnswers({
      db: deps.db, entity: WelcomeEntity, prefix: 'welcome', clock: deps.clock, outbound: deps.outbound, log: deps.log, closeDue: deps.closeDue,
      compose: async (rows) => {
        const groupId = rows[0]?.groupId ?? ''
        const rule = await deps.rules(groupId)
        const text = renderTemplate(rule.welcome.template, { members: rows.map((r) => r.line).join('、'), group: await deps.groupName(groupId), rules: rule.texts.rules })
        return [{ text, mentions: rows.map((r) => r.memberId), cause: 'moderation.welcome', note: `welcome (${rows.length} newcomer${rows.length === 1 ? '' : 's'})` }]
      },
    })
  }

  /** Holds the members of a join event (stored before it resolves). */
  async joined(event: EventOfKind<typeof MemberJoined>): Promise<void> {
    const rule = await this.deps.rules(event.groupId)
    if (!rule.enabled || !rule.welcome.enabled) return
    for (const m of event.members) {
      if (m.role === 'bot') continue
      await this.held.add({ windowKey: event.groupId, botId: event.botId, groupId: event.groupId, memberId: m.id, single: '', line: m.name, header: '', note: 'welcome' },
        { windowMs: rule.welcome.windowSeconds * 1000, firstAtOnce: false })
    }
  }

  /** Sends every pending welcome now (shutdown). */
  flushAll(): Promise<void> { return this.held.flushAll() }
}
