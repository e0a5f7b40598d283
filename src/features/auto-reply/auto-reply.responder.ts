import type { FeatureTables } from '../../adapters/db/feature-store'
import type { Outbound } from '../../kernel/outbound-service'
import { localTime } from '../../kernel/time'
import type { Counters } from '../../ports/ports'
import type { Random } from '../../ports/random'
import { renderAnswer, type Blocked, type LiveRule, type MatchInput } from './auto-reply.engine'
import type { AutoReplyGroup } from './auto-reply.rules'
import type { AutoReplyStore } from './auto-reply.store'

/** What happened (or would happen) with one matching rule. */
export interface RuleOutcome {
  ruleId: number
  name: string
  /** The rule's owner (null: an admin's), so a dry run shows callers only the rules they may see. */
  ownerTokenId: number | null
  status: 'answered' | 'cooldown' | Blocked
  /** The rendered answer (answered, or what it would have said). */
  rendered?: { text?: string; mention: boolean; link?: { url: string; title: string }; imageUrl?: string }
}

/** The message and sender as the responder needs them. */
export interface Asker extends MatchInput {
  botId: string
  groupName: string
  memberId: string
  memberName: string
  messageId?: string
}

/**
 * Decides and sends answers: the first matching rule whose conditions hold answers (and later ones too
 * while rules say "also continue"), unless a cooldown suppresses it — then the suppression is counted and
 * nothing is sent. In dry-run mode it reports the same decisions and changes nothing.
 */
export class Responder {
  constructor(private readonly deps: { db: FeatureTables; store: AutoReplyStore; counters: Counters; random: Random; outbound: Outbound }) {}

  /** Runs the rules for one message. */
  async respond(asker: Asker, settings: AutoReplyGroup, dryRun: boolean): Promise<{ normalized: string; outcomes: RuleOutcome[] }> {
    const [index, owners] = await Promise.all([this.deps.store.index(), this.deps.store.scopes()])
    const { normalized, candidates } = index.candidates(asker, owners)
    const outcomes: RuleOutcome[] = []
    let answers = 0
    for (const { rule, blocked } of candidates) {
      if (blocked) {
        outcomes.push({ ruleId: rule.id, name: rule.name, ownerTokenId: rule.ownerTokenId, status: blocked })
        continue
      }
      const rendered = this.render(rule, asker)
      // A dry run only looks; a real answer takes the cooldown atomically (two replicas never both answer).
      if (dryRun ? await this.coolingDown(rule, asker) : !(await this.takeCooldown(rule, asker))) {
        outcomes.push({ ruleId: rule.id, name: rule.name, ownerTokenId: rule.ownerTokenId, status: 'cooldown', rendered })
        if (!dryRun) await this.count(rule.id, asker, 'suppressed')
      } else {
        outcomes.push({ ruleId: rule.id, name: rule.name, ownerTokenId: rule.ownerTokenId, status: 'answered', rendered })
        answers++
        if (!dryRun) {
          this.send(asker, rendered, `auto-reply (rule ${rule.name})`)
          await this.count(rule.id, asker, 'answered')
        }
      }
      if (!rule.alsoContinue || answers >= settings.maxAnswersPerMessage) break
    }
    return { normalized, outcomes }
  }

  private render(rule: LiveRule, asker: Asker): NonNullable<RuleOutcome['rendered']> {
    const variants = rule.answer.variants
    const variant = variants[variants.length === 1 ? 0 : this.deps.random.int(0, variants.length - 1)] as (typeof variants)[number]
    const vars = { member: asker.memberName, group: asker.groupName, at: asker.at, timezone: asker.timezone }
    return {
      text: variant.text ? renderAnswer(variant.text, vars) : undefined,
      mention: variant.mention,
      link: variant.link ? { ...variant.link, title: renderAnswer(variant.link.title, vars) } : undefined,
      imageUrl: variant.imageUrl,
    }
  }

  private send(asker: Asker, r: NonNullable<RuleOutcome['rendered']>, note: string): void {
    const to = { botId: asker.botId, groupId: asker.groupId }
    const cause = asker.messageId
    if (r.text) this.deps.outbound.say(to, r.text, { mentions: r.mention ? [asker.memberId] : undefined, cause, note })
    if (r.link) this.deps.outbound.card(to, r.link, { cause, note })
    if (r.imageUrl) this.deps.outbound.image(to, r.imageUrl, { cause, note })
  }

  private keys(rule: LiveRule, asker: Asker): { group: string; member: string } {
    return { group: `ar:g:${rule.id}:${asker.groupId}`, member: `ar:m:${rule.id}:${asker.groupId}:${asker.memberId}` }
  }

  private async coolingDown(rule: LiveRule, asker: Asker): Promise<boolean> {
    const k = this.keys(rule, asker)
    if (rule.cooldown.groupSeconds > 0 && (await this.deps.counters.get(k.group)) > 0) return true
    if (rule.cooldown.memberSeconds > 0 && (await this.deps.counters.get(k.member)) > 0) return true
    return false
  }

  /** Checks and arms the rule's cooldowns in one atomic step; false = cooling down, do not answer. */
  private takeCooldown(rule: LiveRule, asker: Asker): Promise<boolean> {
    const k = this.keys(rule, asker)
    const keys: Array<{ key: string; ttlMs: number }> = []
    if (rule.cooldown.groupSeconds > 0) keys.push({ key: k.group, ttlMs: rule.cooldown.groupSeconds * 1000 })
    if (rule.cooldown.memberSeconds > 0) keys.push({ key: k.member, ttlMs: rule.cooldown.memberSeconds * 1000 })
    return keys.length === 0 ? Promise.resolve(true) : this.deps.counters.cooldown(keys)
  }

  private async count(ruleId: number, asker: Asker, column: 'answered' | 'suppressed'): Promise<void> {
    const day = localTime(asker.at, asker.timezone).day
    await this.deps.db.upsertIncrement('qy_auto_reply_hit', ['rule_id', 'group_id', 'day'], ['answered', 'suppressed'],
      [[ruleId, asker.groupId, day, column === 'answered' ? 1 : 0, column === 'suppressed' ? 1 : 0]])
  }
}
