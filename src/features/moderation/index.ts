import { join } from 'node:path'
import { defineFeature } from '../../app/feature-deps'
import { LiveTokenScopes } from '../../app/auth/token-scopes'
import { rulesAccessor } from '../../kernel/feature'
import { renderTemplate } from '../../kernel/template'
import { StrikeBook } from './moderation.enforce'
import { ModerationEventEntity, ModerationVersionEntity, StrikeResetEntity, WordListEntity } from './moderation.entity'
import { WordLists } from './moderation.lists'
import { moderationMiddleware } from './moderation.middleware'
import { moderationRoutes } from './moderation.routes'
import { moderationWriter } from './moderation.writer'
import { ModerationRuleSchema, type ModerationRule } from './moderation.rules'
import { Welcomer } from './moderation.welcome'

/**
 * moderation: group rules. Word lists on normalized text (shared automata), owner regexes (RE2), links,
 * card types, QR codes in images, floods, duplicates (also across groups); a strike ladder with decay;
 * owners, admins, staff and an allowlist never punished; failed removals reported to the owner; welcome
 * messages that greet a burst of newcomers together.
 */
export const moderationFeature = defineFeature<ModerationRule>({
  name: 'moderation',
  rules: ModerationRuleSchema,
  entities: [ModerationEventEntity, StrikeResetEntity, WordListEntity, ModerationVersionEntity],
  async setup(deps) {
    const rules = rulesAccessor<ModerationRule>('moderation')
    // Where owners' uploaded lists may match: their tokens' current groups.
    const scopes = new LiveTokenScopes(deps.db, deps.ports.pubsub)
    await scopes.start()
    const lists = new WordLists(deps.db, scopes, deps.log)
    lists.loadFiles(join(deps.config.rulesDir, 'words'))
    // Every write of moderation rules (its routes, the generic rules route, rehearsals) goes through this.
    const unregister = deps.rules.registerWriter('moderation', moderationWriter({ lists, clock: deps.clock }))
    const book = new StrikeBook(deps.db)
    const ruleOf = async (groupId: string): Promise<ModerationRule> => (await deps.rules.forGroup(groupId)).slice('moderation') as ModerationRule
    const welcomer = new Welcomer({ clock: deps.clock, outbound: deps.outbound, rules: ruleOf, groupName: async (id) => (await deps.findGroup(id))?.name ?? '' })

    // A removal's outcome: recorded on its event; when it failed, the owner is told (in a direct message).
    const stopListening = deps.onOutboundOutcome((outcome) => {
      const a = outcome.action
      if (a.kind !== 'remove' || !a.cause) return
      void (async () => {
        await book.removalOutcome(a.groupId, a.cause as string, outcome.status === 'sent', outcome.error)
        if (outcome.status === 'sent') return
        const g = await deps.findGroup(a.groupId)
        const names: Array<{ name: string }> = await deps.db.query('SELECT name FROM qy_member WHERE group_id = ? AND member_id = ?', [a.groupId, a.memberId])
        deps.log.warn('removal failed; owner told', { group: a.groupId, member: a.memberId, error: outcome.error })
        if (!g?.ownerId) return
        const rule = await ruleOf(a.groupId)
        deps.outbound.enqueue({
          kind: 'sayDirect', botId: a.botId, contactId: g.ownerId,
          text: renderTemplate(rule.texts.removalFailed, { member: names[0]?.name ?? a.memberId, group: g.name, reason: (outcome.error ?? 'unknown').slice(0, 100) }),
        })
      })().catch((error: unknown) => deps.log.error('could not record removal outcome', { error: String(error) }))
    })

    return {
      middleware: moderationMiddleware({ rules, lists, counters: deps.ports.counters, book }),
      onEvent: async (event) => {
        if (event.type === 'member.joined') await welcomer.joined(event)
      },
      routes: moderationRoutes({ db: deps.db, clock: deps.clock, rules: deps.rules, lists, book, findGroup: deps.findGroup }),
      drain: () => welcomer.flushAll(),
      stop: async () => { stopListening(); await unregister(); await scopes.stop() },
    }
  },
})
