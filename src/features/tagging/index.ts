import { defineFeature } from '../../adapters/db/feature-store'
import type { Config } from '../../config/config.schema'
import { ACTIVITY } from '../../contracts/activity'
import { CHECK_INS, CheckInCompleted } from '../../contracts/check-in'
import { RuleViolated } from '../../contracts/moderation'
import { LotteryDrawn, LotteryEntered } from '../../contracts/lottery'
import { LIFECYCLE, LIFECYCLE_STATES, MemberLifecycleChanged, ShareReplied, type LifecycleState } from '../../contracts/tagging'
import { MemberJoined, MemberLeft, type EventBase } from '../../kernel/events'
import { DIRECTORY } from '../../kernel/directory'
import { Tagging1796600000000 } from '../../../migrations/1796600000000-Tagging'
import { TaggingMemberIndexes1797400000000 } from '../../../migrations/1797400000000-TaggingMemberIndexes'
import { RetentionIndexTagging1798004000000 } from '../../../migrations/1798004000000-RetentionIndexTagging'
import { TaggingGroupEntity, TaggingHistoryEntity, TaggingKeywordEntity, TaggingMemberEntity, TaggingTagEntity } from './tagging.entity'
import { EngagementBuffer, taggingMiddleware } from './tagging.middleware'
import { taggingDryRun, taggingRoutes } from './tagging.routes'
import { TaggingRuleSchema, type TaggingRule } from './tagging.rules'
import { TaggingService } from './tagging.service'

/**
 * tagging: per member and group, an engagement score (exponential decay) and a lifecycle state
 * (new → active → dormant → churned → returned), recomputed incrementally from the activity rollups by an
 * hourly fenced job that does each group's day once, plus on-the-fly promotion when a silent member
 * speaks. RFM segments and owner-defined tag rules become tags; transitions can send wake-up and
 * welcome messages through the outbound queue. Every transition is a `member.lifecycle_changed` event.
 */
export const taggingFeature = defineFeature<TaggingRule, { timezone: string; maxCachedStates: number }>({
  name: 'tagging',
  rules: { schema: TaggingRuleSchema },
  config: (c: Config) => ({ timezone: c.timezone, maxCachedStates: c.pipeline.memberStateCache }),
  entities: [TaggingMemberEntity, TaggingGroupEntity, TaggingHistoryEntity, TaggingTagEntity, TaggingKeywordEntity],
  personalData: {
    purpose: 'Lifecycle state, activity score, tags and a timeline per member, and the last day a member used an interest keyword.',
    tables: [
      { entity: TaggingMemberEntity, dataClass: 'profile', agesWith: { table: 'qy_member', on: { groupId: 'groupId', memberId: 'memberId' }, timeColumn: 'leftAt' }, memberColumns: ['memberId', 'inviterId'], groupColumn: 'groupId', onErase: 'delete' },
      { entity: TaggingHistoryEntity, dataClass: 'message-metadata', timeColumn: 'at', memberColumns: ['memberId'], mentionColumns: ['ref', 'detail'], groupColumn: 'groupId', onErase: 'delete' },
      { entity: TaggingTagEntity, dataClass: 'profile', agesWith: { table: 'qy_member', on: { groupId: 'groupId', memberId: 'memberId' }, timeColumn: 'leftAt' }, memberColumns: ['memberId'], groupColumn: 'groupId', onErase: 'delete' },
      { entity: TaggingKeywordEntity, dataClass: 'message-metadata', timeColumn: 'day', timeFormat: 'day', memberColumns: ['memberId'], groupColumn: 'groupId', onErase: 'delete' },
    ],
  },
  migrations: [Tagging1796600000000, TaggingMemberIndexes1797400000000, RetentionIndexTagging1798004000000],
  events: { emits: [MemberLifecycleChanged], consumes: [MemberJoined, MemberLeft, CheckInCompleted, LotteryEntered, LotteryDrawn, ShareReplied, RuleViolated] },
  inject: [DIRECTORY, ACTIVITY, CHECK_INS],
  provides: [LIFECYCLE],
  async setup(app) {
    const directory = app.use(DIRECTORY)
    const service = new TaggingService({
      store: app.store, clock: app.clock, log: app.log, events: app.events, outbound: app.outbound, rules: app.rules,
      directory, activity: app.use(ACTIVITY), checkIns: app.use(CHECK_INS), maxCachedStates: app.config.maxCachedStates,
    })
    const buffer = new EngagementBuffer()
    app.provide(LIFECYCLE, {
      async stateCounts(groupId) {
        await service.settle()
        const rows = await app.store.query<{ group_id: string; state: string; n: number | string }>(
          `SELECT group_id, state, COUNT(*) AS n FROM qy_tagging_member${groupId === undefined ? '' : ' WHERE group_id = ?'} GROUP BY group_id, state`, groupId === undefined ? [] : [groupId])
        return rows.filter((r) => (LIFECYCLE_STATES as readonly string[]).includes(r.state) && Number(r.n) > 0)
          .map((r) => ({ groupId: r.group_id, state: r.state as LifecycleState, members: Number(r.n) }))
      },
    })
    const unshare = await service.share(app.coordination.pubsub)
    const timezoneOf = async (groupId: string): Promise<string> => (await directory.find(groupId))?.timezone ?? app.config.timezone

    /** Points of an engagement event (check-in, lottery entry, share reply), once per event id. */
    const engagement = async (event: EventBase, memberId: unknown, weight: keyof TaggingRule['score']['weights'], kind: string, detail: string | null): Promise<void> => {
      if (!event.groupId || typeof memberId !== 'string') return
      const rule = await app.rules.forGroup(event.groupId)
      if (!rule.enabled) return
      await service.addPoints({ groupId: event.groupId, memberId, points: rule.score.weights[weight], at: event.at, kind, detail, ref: `ev:${event.id}`, timezone: await timezoneOf(event.groupId) })
    }

    return {
      middleware: taggingMiddleware({ service, rules: app.rules, buffer }),
      rules: { dryRun: taggingDryRun({ service, clock: app.clock, store: app.store }) },
      async onEvent(event) {
        if (MemberJoined.is(event)) {
          if (!(await app.rules.forGroup(event.groupId)).enabled) return
          await service.joined({ groupId: event.groupId, botId: event.botId, members: event.members.filter((m) => m.role !== 'bot'), inviterId: event.inviterId ?? null, at: event.at, eventId: event.id, timezone: await timezoneOf(event.groupId) })
        } else if (MemberLeft.is(event)) {
          if (!(await app.rules.forGroup(event.groupId)).enabled) return
          await service.left({ groupId: event.groupId, botId: event.botId, memberIds: event.memberIds, at: event.at, eventId: event.id, timezone: await timezoneOf(event.groupId) })
        } else if (CheckInCompleted.is(event)) {
          await engagement(event, event.memberId, 'checkIn', 'checkin', `${event.day} (${event.kind}, streak ${event.streak})`)
        } else if (LotteryEntered.is(event)) {
          await engagement(event, event.memberId, 'lotteryEntry', 'lottery', null)
        } else if (LotteryDrawn.is(event)) {
          // Wins are part of the winners' timelines; they add no points.
          if (!(await app.rules.forGroup(event.groupId)).enabled) return
          await service.lotteryWon({ groupId: event.groupId, winnerIds: event.winnerIds, lotteryId: event.lotteryId, round: event.round, at: event.at, eventId: event.id })
        } else if (ShareReplied.is(event)) {
          await engagement(event, event.memberId, 'shareReply', 'share', null)
        } else if (RuleViolated.is(event) && !event.shadow) {
          // A strike is part of the member's timeline; it adds no points.
          await service.note({ groupId: event.groupId, memberId: event.memberId, at: event.at, kind: 'strike', detail: `${event.action}${event.strike !== null ? ` (strike ${event.strike})` : ''}: ${event.detectors.join(', ')}`.slice(0, 200), ref: `ev:${event.id}` })
        }
      },
      // Every route reads what the message path decided: the rows it buffered are written first.
      routes: taggingRoutes({ store: app.store, clock: app.clock, service, directory, rules: app.rules, outbound: app.outbound })
        .map((route) => ({ ...route, handler: async (input: Parameters<typeof route.handler>[0]) => { await service.settle(); return route.handler(input) } })),
      jobs: [{
        // Hourly; each group's day is recomputed once, in its own timezone, after its local midnight.
        name: 'tagging.recompute',
        cron: '5 * * * *',
        timezone: app.config.timezone,
        catchUpMs: 2 * 3_600_000,
        async run() {
          for (const g of await directory.activeGroups()) {
            const now = app.clock.now()
            const result = await service.recompute(g, now)
            if (result) app.log.info('tagging recomputed', { groupId: g.id, ...result })
            await service.wakeUp(g, now)
          }
        },
      }],
      stop: () => unshare(),
      async flush() {
        await service.settle()
        const now = app.clock.now()
        const mentions = buffer.mentions
        const keywords = buffer.keywords
        buffer.mentions = new Map()
        buffer.keywords = new Map()
        const batches: Array<{ groupId: string; items: Array<{ memberId: string; points: number }>; timezone: string }> = []
        for (const [groupId, g] of mentions) {
          const rule = await app.rules.forGroup(groupId)
          batches.push({ groupId, items: [...g.counts].map(([memberId, n]) => ({ memberId, points: n * rule.score.weights.mentioned })), timezone: g.timezone })
        }
        await service.addPointsBulkMany(batches, now)
        await service.keywordHits([...keywords].map(([key, day]) => [...key.split('\u0000'), day] as [string, string, string, string]))
      },
    }
  },
})
