import { defineFeature } from '../../adapters/db/feature-store'
import { DIRECTORY } from '../../kernel/directory'
import { addDays } from '../../kernel/time'
import { Stats1796700000000 } from '../../../migrations/1796700000000-Stats'
import { StatsLotteryLifecycle1797100000000 } from '../../../migrations/1797100000000-StatsLotteryLifecycle'
import { StatsTopicsQuestions1797600000000 } from '../../../migrations/1797600000000-StatsTopicsQuestions'
import { StatsOpenQuestions1798400000000 } from '../../../migrations/1798400000000-StatsOpenQuestions'
import { StatsAllGroups1798300000000 } from '../../../migrations/1798300000000-StatsAllGroups'
import { StatsRunningTotals1798930000000 } from '../../../migrations/1798930000000-StatsRunningTotals'
import { AUTO_REPLY_RULE_OWNERS } from '../../contracts/auto-reply'
import { ACTIVITY } from '../../contracts/activity'
import { STATS_REBUILD } from '../../contracts/stats'
import { SHARE_LIFT } from '../../contracts/scheduled-share'
import { LIFECYCLE } from '../../contracts/tagging'
import { seedLifecycle } from './stats.lifecycle-seed'
import { rebuildGroup } from './stats.rebuild'
import { MEMBER_HOUR_KEEP_DAYS, StatsBuffer, TERMS_WRITE_MS } from './stats.buffer'
import { STATS_ENTITIES, StatsEventEntity, StatsTermDayEntity, StatsInviterDayEntity, StatsLotteryDayEntity, StatsMemberDayEntity, StatsMemberEntity, StatsMemberHourEntity, StatsMemberMonthEntity, StatsMemberRunningEntity, StatsPairLastEntity } from './stats.entity'
import { applyEvents, STATS_CONSUMES } from './stats.events'
import { statsMiddleware } from './stats.middleware'
import { QuestionBook } from './stats.open-questions'
import { StatsOpenQuestionEntity } from './stats.open-question.entity'
import { statsRoutes } from './stats.routes'
import { pruneTerms } from './stats.content'
import { StatsRuleSchema, type StatsRule } from './stats.rules'

/** Processed event ids are kept this long (an event redelivered later than this would count again). */
const EVENT_ID_KEEP_DAYS = 30

/**
 * stats: read models for operators' reports. Messages are counted by its own observer step into batched
 * rollups (group-day, group-hour, member-day); member, check-in, auto-reply, moderation, lottery and
 * lifecycle events are folded in once per event id. The report routes read only these rollups, never the
 * message log.
 */
export const statsFeature = defineFeature<StatsRule, { timezone: string; flushIntervalMs: number }>({
  name: 'stats',
  rules: { schema: StatsRuleSchema },
  config: (c) => ({ timezone: c.timezone, flushIntervalMs: c.activity.flushIntervalMs }),
  entities: [...STATS_ENTITIES, StatsOpenQuestionEntity],
  personalData: {
    purpose: 'Per-member daily and monthly rollups (top members, retention cohorts, inviters, lottery entries) for reports; no text.',
    tables: [
      { entity: StatsMemberDayEntity, dataClass: 'rollups', timeColumn: 'day', timeFormat: 'day', memberColumns: ['memberId'], groupColumn: 'groupId', onErase: 'delete' },
      { entity: StatsMemberRunningEntity, dataClass: 'rollups', timeColumn: 'day', timeFormat: 'day', memberColumns: ['memberId'], groupColumn: 'groupId', onErase: 'delete' },
      { entity: StatsMemberMonthEntity, dataClass: 'rollups', kept: 'month masks of active days (rollups); erased with the member', memberColumns: ['memberId'], groupColumn: 'groupId', onErase: 'delete' },
      { entity: StatsPairLastEntity, dataClass: 'rollups', kept: "each member's last active day per group (reach rollups); erased with the member", memberColumns: ['memberId'], groupColumn: 'groupId', onErase: 'delete' },
      { entity: StatsInviterDayEntity, dataClass: 'rollups', timeColumn: 'day', timeFormat: 'day', memberColumns: ['memberId'], groupColumn: 'groupId', onErase: 'delete' },
      { entity: StatsMemberHourEntity, dataClass: 'message-metadata', timeColumn: 'day', timeFormat: 'day', keepDays: MEMBER_HOUR_KEEP_DAYS + 1, memberColumns: ['memberId'], groupColumn: 'groupId', onErase: 'delete' },
      { entity: StatsMemberEntity, dataClass: 'rollups', kept: "a member's join cohort (rollups); erased with the member", memberColumns: ['memberId'], groupColumn: 'groupId', onErase: 'delete' },
      { entity: StatsLotteryDayEntity, dataClass: 'rollups', timeColumn: 'day', timeFormat: 'day', memberColumns: ['memberId'], groupColumn: 'groupId', onErase: 'delete' },
      // Words members typed, counted per group and day (no member ids; a term may be a name): message text.
      { entity: StatsTermDayEntity, dataClass: 'message-text', timeColumn: 'day', timeFormat: 'day', mentionColumns: ['term'], groupColumn: 'groupId', onErase: 'delete' },
      { entity: StatsEventEntity, dataClass: 'message-metadata', timeColumn: 'at', keepDays: EVENT_ID_KEEP_DAYS, mentionColumns: ['id'], onErase: 'delete' },
      // Questions waiting for an answer (who asked, when): deleted when answered or when the window (≤ 1 day) ends.
      { entity: StatsOpenQuestionEntity, dataClass: 'message-metadata', timeColumn: 'at', memberColumns: ['senderId'], groupColumn: 'groupId', onErase: 'delete' },
    ],
  },
  migrations: [Stats1796700000000, StatsLotteryLifecycle1797100000000, StatsTopicsQuestions1797600000000, StatsAllGroups1798300000000, StatsOpenQuestions1798400000000, StatsRunningTotals1798930000000],
  events: { consumes: STATS_CONSUMES },
  inject: [DIRECTORY, ACTIVITY, SHARE_LIFT, AUTO_REPLY_RULE_OWNERS, LIFECYCLE],
  provides: [STATS_REBUILD],
  async setup(app) {
    const directory = app.use(DIRECTORY)
    const lifecycle = app.use(LIFECYCLE)
    // Members whose lifecycle was assigned before stats saw it: seeded from the tagging feature's counts.
    const seed = async (groupId?: string): Promise<void> => {
      const r = await seedLifecycle(app.store, lifecycle, groupId)
      app.log.info('stats lifecycle seeded', { groups: r.groups, members: r.seeded, ...(groupId ? { groupId } : {}) })
    }
    await seed().catch((error: unknown) => app.log.warn('stats lifecycle seed failed (the daily job tries again)', { error: String(error) }))
    const buffer = new StatsBuffer(app.store, () => app.clock.now())
    const book = new QuestionBook(app.store)
    const activity = app.use(ACTIVITY)
    app.provide(STATS_REBUILD, {
      // This process's unwritten rows first: the rebuild replaces what is stored.
      rebuild: async (groupId, from, to) => { await buffer.flushTerms(); await book.flush(); await seed(groupId); return rebuildGroup({
        store: app.store, activity, leases: app.coordination.leases, now: () => app.clock.now(), owner: `pid-${process.pid}`,
        // The message log's rows (metadata) are what a rebuild reads (their text is cleared sooner), kept
        // as long as the group's owners' policies say; other processes write a day's counts for up to two
        // term-write periods and one flush after it ends.
        logRetentionDays: (id) => app.retentionDays('message-metadata', id),
        settleMs: 2 * TERMS_WRITE_MS + app.config.flushIntervalMs,
        async group(id) {
          const g = await directory.find(id)
          return g ? { timezone: g.timezone, rule: await app.rules.forGroup(id) } : null
        },
      }, groupId, from, to) },
    })
    const timezoneOf = async (groupId: string, botId: string | undefined): Promise<string> => {
      if (botId) return (await directory.group(groupId, botId)).timezone
      return (await directory.find(groupId))?.timezone ?? app.config.timezone
    }
    return {
      middleware: statsMiddleware({ buffer, book, rules: app.rules }),
      async onEvents(events) {
        // Auto-reply answers resolve questions in the message step (stats.middleware.ts), not here: this batched
        // delivery may run after the group's later messages, which the live path and a rebuild must agree on.
        await applyEvents(app.store, events, timezoneOf)
      },
      routes: statsRoutes({ db: app.store, clock: app.clock, directory, timezone: app.config.timezone, shareLift: app.use(SHARE_LIFT), ruleOwners: app.use(AUTO_REPLY_RULE_OWNERS), beforeTopics: () => buffer.flushTerms(), pseudonym: (id) => app.pseudonym(id) }),
      // Staging rows (member hours, processed event ids) are purged by the retention job of their class,
      // in batches (their declarations above carry the short limit).
      jobs: [{
        name: 'stats.purge-open-questions',
        cron: '23 4 * * *',
        timezone: app.config.timezone,
        async run() {
          // Open questions of groups that went quiet (a group's next message drops its own expired ones; at
          // most 50 rows a group), then the lifecycle seed.
          await app.store.query('DELETE FROM qy_stats_open_question WHERE deadline < ?', [app.clock.now()])
          await seed()
        },
      }, {
        name: 'stats.prune-terms',
        cron: '37 4 * * *',
        timezone: app.config.timezone,
        async run() {
          // Days before yesterday (UTC) are over in every timezone: keep their top terms only.
          const before = addDays(new Date(app.clock.now()).toISOString().slice(0, 10), -1)
          const pruned = await pruneTerms(app.store, before)
          app.log.info('stats terms pruned', { before, groupDays: pruned.groupDays, deleted: pruned.deleted })
        },
      }],
      async flush() {
        await buffer.flush()
        await book.flush()
      },
      // Term counts held back between term writes go out at shutdown (the database is still open here).
      async stop() {
        await buffer.flushTerms()
        await book.flush()
      },
      // Open questions held in memory (their rows are deleted by the kernel's erasure).
      eraseMember: async (s) => [{ place: 'stats open questions (memory)', removed: book.forgetMember(s.memberId, s.groupIds, s.dryRun === true), pseudonymised: 0 }],
    }
  },
})
