import type { FeatureTables } from '../../adapters/db/feature-store'
import type { AccessService, TokenScopes } from '../../contracts/access'
import { errorText, type Logger } from '../../kernel/logger'
import type { Disposer, PubSub } from '../../ports/ports'
import { AutoReplyRuleEntity } from './auto-reply.entity'
import { RuleIndex, type LiveRule } from './auto-reply.engine'
import { AutoReplyRuleSchema, type AutoReplyRule } from './auto-reply.rules'

/** Channel announcing rule changes to every replica. */
export const AUTO_REPLY_CHANNEL = 'autoreply.changed'

/** A stored rule as plain data. */
export function toLive(row: AutoReplyRuleEntity): LiveRule {
  // Stored rows were validated on write; parsing again fills defaults added since, and guards old rows.
  const rule = AutoReplyRuleSchema.parse({
    name: row.name, enabled: row.enabled, trigger: row.trigger, scope: row.scope, conditions: row.conditions,
    cooldown: row.cooldown, alsoContinue: row.alsoContinue, answer: row.answer,
  })
  return { ...rule, id: row.id, ownerTokenId: row.ownerTokenId, position: row.position }
}

/** The row for a validated rule. */
export function toRow(rule: AutoReplyRule): Pick<AutoReplyRuleEntity, 'name' | 'enabled' | 'trigger' | 'scope' | 'conditions' | 'cooldown' | 'alsoContinue' | 'answer'> {
  return { name: rule.name, enabled: rule.enabled, trigger: rule.trigger, scope: rule.scope, conditions: rule.conditions, cooldown: rule.cooldown, alsoContinue: rule.alsoContinue, answer: rule.answer }
}

/**
 * Keeps one compiled RuleIndex of every rule, rebuilt lazily after any change on any replica (rules,
 * or owners' grants, which bound what their rules may serve).
 */
export class AutoReplyStore {
  private cached: Promise<RuleIndex> | null = null
  private readonly disposers: Disposer[] = []

  constructor(private readonly db: FeatureTables, private readonly pubsub: PubSub, private readonly access: AccessService, private readonly log: Logger) {}

  /** Subscribes to changes. */
  async start(): Promise<void> {
    const drop = (): void => { this.cached = null }
    this.disposers.push(await this.pubsub.subscribe(AUTO_REPLY_CHANNEL, drop))
  }

  /** Unsubscribes. */
  async stop(): Promise<void> { for (const d of this.disposers.splice(0)) await d() }

  /** The compiled index (built on first use after a change). */
  index(): Promise<RuleIndex> {
    if (!this.cached) {
      const building = this.build()
      this.cached = building
      building.catch(() => { if (this.cached === building) this.cached = null })
    }
    return this.cached
  }

  /** Owners' current group scopes (a rule never serves a group its owner lost; kept live by the access feature). */
  scopes(): Promise<TokenScopes> { return this.access.scopes() }

  /** Drops the compiled index here and on every replica. */
  async changed(): Promise<void> {
    this.cached = null
    await this.pubsub.publish(AUTO_REPLY_CHANNEL, 'changed')
  }

  private async build(): Promise<RuleIndex> {
    const started = Date.now()
    const rows = await this.db.repo(AutoReplyRuleEntity).find({ order: { position: 'ASC', id: 'ASC' } })
    const rules: LiveRule[] = []
    for (const row of rows) {
      try { rules.push(toLive(row)) } catch (error) {
        this.log.error('stored auto-reply rule no longer valid; skipped', { rule: row.id, error: errorText(error) })
      }
    }
    // Owners' current grants: a rule never serves a group its owner lost.
    const index = new RuleIndex(rules)
    this.log.debug('auto-reply rules compiled', { rules: rules.length, ms: Date.now() - started })
    return index
  }
}
