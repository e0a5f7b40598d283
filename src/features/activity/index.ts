import { LessThan } from 'typeorm'
import { defineFeature } from '../../app/feature-deps'
import { rulesAccessor } from '../../kernel/feature'
import { ActivityBuffer } from './activity.buffer'
import { ActivityDailyEntity, ActivityHourlyEntity, MessageLogEntity } from './activity.entity'
import { dailySeries } from './activity.queries'
import { activityRoutes } from './activity.routes'
import { ActivityRuleSchema, type ActivityRule } from './activity.rules'

const DAY_MS = 86_400_000

/**
 * activity: counts every group message per member per day (group timezone), in hourly buckets, and keeps
 * a message log for the retention period. Writes are batched on the flush interval. An observer: it
 * always calls next().
 */
export const activityFeature = defineFeature<ActivityRule>({
  name: 'activity',
  rules: ActivityRuleSchema,
  entities: [ActivityDailyEntity, ActivityHourlyEntity, MessageLogEntity],
  setup(deps) {
    const rules = rulesAccessor<ActivityRule>('activity')
    const buffer = new ActivityBuffer(deps.db)
    let lastReport = deps.clock.now()
    deps.contributeGroupSummary('activity', async (group) => ({ activity: await dailySeries(deps.db, group.id, group.timezone, deps.clock.now(), 7) }))
    const timezoneOf = async (groupId: string): Promise<string | null> => (await deps.findGroup(groupId))?.timezone ?? null
    return {
      async middleware(ctx, next) {
        buffer.record(ctx.message, ctx.group.timezone, rules(ctx).logText)
        await next()
      },
      routes: activityRoutes(deps.db, deps.clock, timezoneOf),
      jobs: [{
        name: 'activity.purge-message-log',
        cron: deps.config.activity.purgeCron,
        timezone: deps.config.timezone,
        async run() {
          const cutoff = deps.clock.now() - deps.config.activity.retentionDays * DAY_MS
          const result = await deps.db.getRepository(MessageLogEntity).delete({ at: LessThan(cutoff) })
          deps.log.info('message log purged', { deleted: result.affected ?? null, retentionDays: deps.config.activity.retentionDays })
        },
      }],
      async flush() {
        await buffer.flush()
        // One info line a minute says the bot is recording, without any message content.
        const now = deps.clock.now()
        if (now - lastReport >= 60_000 && buffer.written.messages > 0) {
          deps.log.info('activity recorded', { messages: buffer.written.messages, groups: buffer.written.groups.size, sinceSeconds: Math.round((now - lastReport) / 1000) })
          buffer.written.messages = 0
          buffer.written.groups.clear()
          lastReport = now
        }
      },
    }
  },
})
