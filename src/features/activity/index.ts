import { defineFeature } from '../../adapters/db/feature-store'
import type { Config } from '../../config/config.schema'
import { ACTIVITY } from '../../contracts/activity'
import { DIRECTORY } from '../../kernel/directory'
import { ActivityDayIndex1796300000000 } from '../../../migrations/1796300000000-ActivityDayIndex'
import { MessageLogHandled1798400100000 } from '../../../migrations/1798400100000-MessageLogHandled'
import { ActivityBuffer } from './activity.buffer'
import { ActivityDailyEntity, ActivityHourlyEntity, MessageLogEntity } from './activity.entity'
import { activityMiddleware } from './activity.middleware'
import { activityFacts, dailySeries } from './activity.queries'
import { activityRoutes } from './activity.routes'
import { ActivityRuleSchema, type ActivityRule } from './activity.rules'

/**
 * activity: counts every group message per member per day (group timezone), in hourly buckets, and keeps
 * a message log (purged by the kernel's retention jobs through its personal-data declaration). Writes are batched on the flush interval. An observer: it
 * always calls next().
 */
export const activityFeature = defineFeature<ActivityRule, Config['activity'] & { timezone: string }>({
  name: 'activity',
  rules: { schema: ActivityRuleSchema },
  config: (c) => ({ ...c.activity, timezone: c.timezone }),
  entities: [ActivityDailyEntity, ActivityHourlyEntity, MessageLogEntity],
  personalData: {
    purpose: 'Per-member daily message counters (activity reports, tagging) and the raw message log kept for its retention period.',
    tables: [
      { entity: ActivityDailyEntity, dataClass: 'rollups', timeColumn: 'day', timeFormat: 'day', memberColumns: ['memberId'], groupColumn: 'groupId', onErase: 'delete' },
      { entity: MessageLogEntity, dataClass: 'message-metadata', timeColumn: 'at', memberColumns: ['senderId'], textColumns: ['text'], groupColumn: 'groupId', onErase: 'delete' },
    ],
  },
  migrations: [ActivityDayIndex1796300000000, MessageLogHandled1798400100000],
  inject: [DIRECTORY],
  provides: [ACTIVITY],
  setup(app) {
    const directory = app.use(DIRECTORY)
    app.provide(ACTIVITY, activityFacts(app.store))
    const buffer = new ActivityBuffer(app.store)
    let lastReport = app.clock.now()
    return {
      middleware: activityMiddleware({ buffer, rules: app.rules }),
      summary: async (group) => ({ activity: await dailySeries(app.store, group.id, group.timezone, app.clock.now(), 7) }),
      routes: activityRoutes(app.store, app.clock, directory),
      async flush() {
        const before = buffer.rowsWritten
        await buffer.flush()
        // One info line a minute says the bot is recording, without any message content.
        const now = app.clock.now()
        if (now - lastReport >= 60_000 && (buffer.written.messages > 0 || buffer.written.alreadyLogged > 0)) {
          app.log.info('activity recorded', { messages: buffer.written.messages, groups: buffer.written.groups.size, alreadyLogged: buffer.written.alreadyLogged, sinceSeconds: Math.round((now - lastReport) / 1000) })
          buffer.written.messages = 0
          buffer.written.alreadyLogged = 0
          buffer.written.groups.clear()
          lastReport = now
        }
        return buffer.rowsWritten - before
      },
    }
  },
})
