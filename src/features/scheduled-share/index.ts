import { defineFeature } from '../../adapters/db/feature-store'
import { errorText } from '../../kernel/logger'
import { ACCESS } from '../../contracts/access'
import { ACTIVITY } from '../../contracts/activity'
import { CHECK_INS } from '../../contracts/check-in'
import { SHARE_LIFT, SharePosted } from '../../contracts/scheduled-share'
import { DIRECTORY } from '../../kernel/directory'
import { BotLoggedIn, OutboundFinished } from '../../kernel/events'
import { ScheduledShare1796500000000 } from '../../../migrations/1796500000000-ScheduledShare'
import { ShareImages1797200000000 } from '../../../migrations/1797200000000-ShareImages'
import { MEDIA } from '../../contracts/media'
import { EngagementRecorder } from './scheduled-share.engagement'
import { ShareEngine, ShareSlotDue } from './scheduled-share.engine'
import { ShareImages } from './scheduled-share.images'
import { ShareImageChunkEntity, ShareImageEntity, SharePostEntity, ShareScheduleEntity, ShareSendEntity, ShareWindowEntity, ShareWindowMemberEntity } from './scheduled-share.entity'
import { scheduledShareMiddleware } from './scheduled-share.middleware'
import { shareRoutes } from './scheduled-share.routes'
import { ScheduledShareRuleSchema, type ScheduledShareRule } from './scheduled-share.rules'

/** The tick job's name (tests and operators run it by name). */
export const SHARE_TICK_JOB = 'scheduled-share.tick'

/**
 * scheduled-share: owners' content calendar (每日主题分享). A content library of templated posts, schedules
 * (cron or one-off, in each group's timezone) targeting groups, a label or all of the owner's groups, with
 * rotations (a topic per weekday, the next unused post of a tag, a list in turn; no repeat within N days).
 * Every (schedule, group, fire time) is one unique row: posted once across replicas and restarts, spread
 * over a stagger window, skipped or deferred in quiet hours and on calendar days, logged either way.
 */
export const scheduledShareFeature = defineFeature<ScheduledShareRule, { timezone: string; imageMaxBytes: number }>({
  name: 'scheduled-share',
  rules: { schema: ScheduledShareRuleSchema },
  config: (c) => ({ timezone: c.timezone, imageMaxBytes: c.api.imageUploadMaxBytes }),
  entities: [SharePostEntity, ShareScheduleEntity, ShareSendEntity, ShareWindowEntity, ShareWindowMemberEntity, ShareImageEntity, ShareImageChunkEntity],
  personalData: {
    purpose: 'Who spoke in the windows around a shared post (post lift); posts and images are the owner\'s content.',
    tables: [
      { entity: ShareWindowMemberEntity, dataClass: 'message-metadata', agesWith: { table: 'qy_share_window', on: { sendId: 'sendId' }, timeColumn: 'endAt', groupColumn: 'groupId' }, memberColumns: ['memberId'], onErase: 'delete' },
    ],
  },
  migrations: [ScheduledShare1796500000000, ShareImages1797200000000],
  events: { emits: [SharePosted, ShareSlotDue], consumes: [OutboundFinished, ShareSlotDue, BotLoggedIn] },
  inject: [DIRECTORY, ACCESS, CHECK_INS, ACTIVITY],
  provides: [MEDIA, SHARE_LIFT],
  setup(app) {
    const access = app.use(ACCESS)
    const images = new ShareImages({ db: app.store, clock: app.clock, maxBytes: app.config.imageMaxBytes })
    app.provide(MEDIA, images)
    const engagement = new EngagementRecorder({ db: app.store, clock: app.clock, log: app.log })
    app.provide(SHARE_LIFT, { lift: (scope, fromMs, toMs, canSee) => engagement.liftBetween(scope, fromMs, toMs, canSee) })
    const engine = new ShareEngine({
      db: app.store, directory: app.use(DIRECTORY), rules: app.rules, scopes: () => access.scopes(), checkIns: app.use(CHECK_INS), activity: app.use(ACTIVITY),
      outbound: app.outbound, events: app.events, clock: app.clock, log: app.log, defaultTimezone: app.config.timezone,
      windows: engagement,
    })
    return {
      // An observer: counts messages after posts (and on days without one) for the post lift; always goes on.
      middleware: scheduledShareMiddleware({ engagement }),
      routes: shareRoutes({ db: app.store, clock: app.clock, engine, engagement, images }),
      jobs: [{
        // Every minute (fenced: one replica per tick). A restart runs the ticks of the last few minutes once;
        // each schedule's cursor makes older fire times either caught up (within its grace) or logged as missed.
        name: SHARE_TICK_JOB, cron: '* * * * *', catchUpMs: 3 * 60_000,
        run: (fireTime) => engine.tick(fireTime),
      }],
      // Inline, in the processor's order: a stagger slot's dispatch and send outcomes are part of the runtime's work.
      onEvent: async (event) => {
        if (ShareSlotDue.is(event)) await engine.dispatchDue()
        else if (OutboundFinished.is(event)) await engine.finished([event])
        // A bot logged in here (a start, or a takeover from a replica that died): its sends a crash left
        // claimed but never queued go out now rather than at the next tick.
        else if (BotLoggedIn.is(event)) {
          try { await engine.sweep({ botId: event.botId }) } catch (error) { app.log.error('share sweep at login failed (the next tick retries)', { bot: event.botId, error: errorText(error) }) }
        }
      },
      flush: () => engagement.flush(),
      stop: () => engine.stop(),
    }
  },
})
