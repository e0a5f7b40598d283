import { join } from 'node:path'
import { defineFeature } from '../../adapters/db/feature-store'
import { ACCESS } from '../../contracts/access'
import { ModerationReversed, RuleViolated } from '../../contracts/moderation'
import { DIRECTORY } from '../../kernel/directory'
import { errorText } from '../../kernel/logger'
import { BotLoggedIn, MemberJoined, OutboundFinished, type EventOfKind } from '../../kernel/events'
import { renderTemplate } from '../../kernel/template'
import { Moderation1764200000000 } from '../../../migrations/1764200000000-Moderation'
import { ModerationFalsePositive1797600000100 } from '../../../migrations/1797600000100-ModerationFalsePositive'
import { RetentionIndexModeration1798003000000 } from '../../../migrations/1798003000000-RetentionIndexModeration'
import { ModerationWelcome1798920000200 } from '../../../migrations/1798920000200-ModerationWelcome'
import { ModerationEventOnce1798940300000 } from '../../../migrations/1798940300000-ModerationEventOnce'
import { moderationDryRun } from './moderation.dry-run'
import { StrikeBook } from './moderation.enforce'
import { ModerationEventEntity, StrikeResetEntity, WelcomeEntity, WordListEntity } from './moderation.entity'
import { WordLists } from './moderation.lists'
import { moderationMiddleware } from './moderation.middleware'
import { moderationRoutes } from './moderation.routes'
import { ModerationRuleSchema, type ModerationRule } from './moderation.rules'
import { WelcomeDue, Welcomer } from './moderation.welcome'

/**
 * moderation: group rules. Word lists on normalized text (shared automata), owner regexes (RE2), links,
 * card types, QR codes in images, floods, duplicates (also across groups); a strike ladder with decay;
 * owners, admins, staff and an allowlist never punished; failed removals reported to the owner; welcome
 * messages that greet a burst of newcomers together.
 */
export const moderationFeature = defineFeature<ModerationRule, { rulesDir: string }>({
  name: 'moderation',
  rules: { schema: ModerationRuleSchema },
  config: (c) => ({ rulesDir: c.rulesDir }),
  entities: [ModerationEventEntity, StrikeResetEntity, WordListEntity, WelcomeEntity],
  personalData: {
    purpose: 'Violations (what matched, never the whole message), strikes and their resets, so repeat offenders are handled and owners can review.',
    tables: [
      { entity: ModerationEventEntity, dataClass: 'moderation-evidence', timeColumn: 'at', memberColumns: ['memberId'], textColumns: ['matched', 'reason'], groupColumn: 'groupId', onErase: 'delete' },
      { entity: StrikeResetEntity, dataClass: 'moderation-evidence', timeColumn: 'at', memberColumns: ['memberId'], groupColumn: 'groupId', onErase: 'delete' },
      { entity: WelcomeEntity, dataClass: 'delivery-logs', timeColumn: 'at', memberColumns: ['memberId'], textColumns: ['line'], nameColumns: ['line'], groupColumn: 'groupId', onErase: 'delete' },
    ],
  },
  migrations: [Moderation1764200000000, ModerationFalsePositive1797600000100, RetentionIndexModeration1798003000000, ModerationWelcome1798920000200, ModerationEventOnce1798940300000],
  events: { emits: [RuleViolated, ModerationReversed, WelcomeDue], consumes: [MemberJoined, OutboundFinished, WelcomeDue, BotLoggedIn] },
  inject: [DIRECTORY, ACCESS],
  async setup(app) {
    const directory = app.use(DIRECTORY)
    // Uploaded lists match only in groups their owner can see now (the access feature keeps scopes live).
    const lists = new WordLists(app.store, app.use(ACCESS), app.log)
    lists.loadFiles(join(app.config.rulesDir, 'words'))
    const book = new StrikeBook(app.store)
    const unshare = await book.share(app.coordination.pubsub, (error) => app.log.warn('strike not shared with other replicas', { error: errorText(error) }))
    const loaded = await book.load(app.clock.now())
    app.log.debug('strikes loaded', { strikes: loaded })
    const welcomer = new Welcomer({
      db: app.store, clock: app.clock, outbound: app.outbound, log: app.log, rules: app.rules.forGroup, groupName: async (id) => (await directory.find(id))?.name ?? '',
      closeDue: (windowKey, groupId) => app.events.emit(WelcomeDue.of({ id: `moderation.welcomeDue:${windowKey}:${app.clock.now()}`, at: app.clock.now(), groupId, windowKey })),
    })
    const sweepWelcomes = async (botId?: string): Promise<void> => {
      try { await welcomer.held.sweep({ botId }) } catch (error) { app.log.error('welcome sweep failed (the next one retries)', { bot: botId, error: errorText(error) }) }
    }
    const dryRun = moderationDryRun({ rules: app.rules, lists, book, clock: app.clock })

    /** A removal's outcome: recorded on its event; when it failed for good, the owner is told (directly). */
    const removalFinished = async (e: EventOfKind<typeof OutboundFinished>): Promise<void> => {
      if (e.kind !== 'remove' || !e.cause || !e.groupId || !e.memberId) return
      // Expired never happens to removals; a removal waiting for the bot's login has no outcome yet. A
      // member who had already left counts as removed (`already_gone`): done, nobody to tell.
      await book.removalOutcome(e.groupId, e.memberId, e.cause, e.status === 'sent', e.at, e.status === 'sent' ? e.outcome : e.error)
      if (e.status !== 'failed') return
      const g = await directory.find(e.groupId)
      const [member] = await directory.members(e.groupId, { ids: [e.memberId], includeLeft: true })
      app.log.warn('removal failed; owner told', { group: e.groupId, member: e.memberId, error: e.error })
      if (!g?.ownerId) return
      const rule = await app.rules.forGroup(e.groupId)
      app.outbound.direct(e.botId, g.ownerId, renderTemplate(rule.texts.removalFailed, { member: member?.name ?? e.memberId, group: g.name, reason: (e.error ?? 'unknown').slice(0, 100) }), { note: 'owner told: removal failed' })
    }

    return {
      middleware: moderationMiddleware({ rules: app.rules, lists, counters: app.coordination.counters, book }),
      rules: {
        // Named word lists must exist and be the caller's to use (lists the group already has may stay).
        check: ({ value, before, change }) => lists.problems(value.words.lists, change.by, new Set(before.words.lists)),
        dryRun,
      },
      onEvent: async (event) => {
        if (MemberJoined.is(event)) await welcomer.joined(event)
        else if (WelcomeDue.is(event)) await welcomer.held.close(event.windowKey)
        else if (OutboundFinished.is(event)) await removalFinished(event)
        // A bot logged in here (a start, or a takeover): welcomes its previous process held go out now.
        else if (BotLoggedIn.is(event)) await sweepWelcomes(event.botId)
      },
      routes: moderationRoutes({ db: app.store, clock: app.clock, rules: app.rules, dryRun, lists, book, findGroup: (id) => directory.find(id), events: app.events }),
      // Every minute: welcomes a crash left in a window (stored, never sent) go out once.
      jobs: [{ name: 'moderation.welcomes', cron: '* * * * *', run: () => sweepWelcomes() }],
      drain: () => welcomer.flushAll(),
      flush: async () => { await welcomer.held.settled(); return book.flush() },
      stop: () => unshare(),
      eraseMember: async (s) => [{ place: 'strike-book', removed: book.eraseMember(s.memberId, s.groupIds, s.dryRun === true), pseudonymised: 0 }],
    }
  },
})
