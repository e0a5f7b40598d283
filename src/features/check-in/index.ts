import { defineFeature } from '../../app/feature-deps'
import { rulesAccessor } from '../../kernel/feature'
import { localTime } from '../../kernel/time'
import { AnswerBatcher } from './check-in.batcher'
import { CheckInDayEntity, CheckInEntity, CheckInMemberEntity, CheckInReminderEntity, PointsLedgerEntity } from './check-in.entity'
import { checkInMiddleware } from './check-in.middleware'
import { checkInRoutes } from './check-in.routes'
import { CheckInRuleSchema, type CheckInRule } from './check-in.rules'
import { checkInDay, CheckInService, isDuplicate } from './check-in.service'

/**
 * check-in: daily 签到 with streaks, points, make-up days and leaderboards — exactly once per member per
 * day (the group's day), enforced by unique keys. Answers are batched at busy moments.
 */
export const checkInFeature = defineFeature<CheckInRule>({
  name: 'check-in',
  rules: CheckInRuleSchema,
  entities: [CheckInEntity, CheckInDayEntity, CheckInMemberEntity, PointsLedgerEntity, CheckInReminderEntity],
  setup(deps) {
    const rules = rulesAccessor<CheckInRule>('check-in')
    const service = new CheckInService(deps.db)
    const batcher = new AnswerBatcher(deps.clock, deps.outbound)
    const facts = (groupId: string) => deps.findGroup(groupId)
    const ruleOf = async (groupId: string): Promise<CheckInRule> => (await deps.rules.forGroup(groupId)).slice('check-in') as CheckInRule
    return {
      middleware: checkInMiddleware({ service, batcher, rules }),
      routes: checkInRoutes({ db: deps.db, clock: deps.clock, service, facts, rules: ruleOf }),
      jobs: [{
        // Every minute: groups whose reminder time has come (in their timezone) get one reminder a day.
        name: 'check-in.reminders',
        cron: '* * * * *',
        async run() {
          const groups: Array<{ id: string }> = await deps.db.query('SELECT id FROM qy_group WHERE active = ?', [true])
          for (const { id } of groups) {
            const rule = await ruleOf(id)
            if (!rule.enabled || !rule.reminder.enabled) continue
            const g = await facts(id)
            if (!g) continue
            const now = deps.clock.now()
            const local = localTime(now, g.timezone)
            const [h, m] = rule.reminder.time.split(':').map(Number) as [number, number]
            // Due from the set minute until an hour after (a restart or a missed tick still reminds, once).
            const minutes = local.hour * 60 + local.minute - (h * 60 + m)
            if (minutes < 0 || minutes > 60) continue
            const day = checkInDay(now, g.timezone, rule.dayStart)
            try {
              await deps.db.getRepository(CheckInReminderEntity).insert({ groupId: id, day, at: now })
            } catch (error) {
              if (isDuplicate(error)) continue // already reminded today (another replica, or an earlier tick)
              throw error
            }
            deps.outbound.enqueue({ kind: 'say', botId: g.botId, groupId: id, text: rule.texts.reminder })
          }
        },
      }],
      drain: async () => { batcher.flushAll() },
    }
  },
})
