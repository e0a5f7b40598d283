import type { EventOfKind, MemberJoined } from '../../kernel/events'
import type { Outbound } from '../../kernel/outbound-service'
import { renderTemplate } from '../../kernel/template'
import type { Clock } from '../../ports/clock'
import type { ModerationRule } from './moderation.rules'

interface Pending { botId: string; members: Array<{ id: string; name: string }> }

/**
 * Welcomes newcomers: joins within `welcome.windowSeconds` are greeted in one message that @-mentions
 * all of them and summarises the group rules, instead of one message per person.
 */
export class Welcomer {
  private readonly pending = new Map<string, Pending>()

  constructor(private readonly deps: { clock: Clock; outbound: Outbound; rules: (groupId: string) => Promise<ModerationRule>; groupName: (groupId: string) => Promise<string> }) {}

  /** Queues the members of a join event. */
  async joined(event: EventOfKind<typeof MemberJoined>): Promise<void> {
    const rule = await this.deps.rules(event.groupId)
    if (!rule.enabled || !rule.welcome.enabled) return
    const members = event.members.filter((m) => m.role !== 'bot')
    if (members.length === 0) return
    const open = this.pending.get(event.groupId)
    if (open) {
      open.members.push(...members)
      return
    }
    this.pending.set(event.groupId, { botId: event.botId, members: [...members] })
    // Not awaited: the group's event queue must not wait for the window.
    void this.deps.clock.sleep(rule.welcome.windowSeconds * 1000).then(() => this.send(event.groupId, rule)).catch(() => undefined)
  }

  /** Sends every pending welcome now (shutdown). */
  async flushAll(): Promise<void> {
    for (const groupId of [...this.pending.keys()]) await this.send(groupId, await this.deps.rules(groupId))
  }

  private async send(groupId: string, rule: ModerationRule): Promise<void> {
    const p = this.pending.get(groupId)
    if (!p) return
    this.pending.delete(groupId)
    const text = renderTemplate(rule.welcome.template, {
      members: p.members.map((m) => m.name).join('、'), group: await this.deps.groupName(groupId), rules: rule.texts.rules,
    })
    this.deps.outbound.say({ botId: p.botId, groupId }, text, { mentions: p.members.map((m) => m.id), cause: 'moderation.welcome', note: `welcome (${p.members.length} newcomer${p.members.length === 1 ? '' : 's'})` })
  }
}
