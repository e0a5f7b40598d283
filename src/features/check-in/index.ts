import { defineFeature } from '../../adapters/db/feature-store'
import { isDuplicate } from '../../adapters/db/errors'
import { CHECK_INS, CheckInCompleted, POINTS } from '../../contracts/check-in'
import { DIRECTORY } from '../../kernel/directory'
import { localTime } from '../../kernel/time'
import { CheckIn1764000000000 } from '../../../migrations/1764000000000-CheckIn'
import { CheckInAnswers1797050000000 } from '../../../migrations/1797050000000-CheckInAnswers'
import { RetentionIndexCheckIn1798001000000 } from '../../../migrations/1798001000000-RetentionIndexCheckIn'
import { errorText } from '../../kernel/logger'
import { CheckInHeldAnswers1798940200000 } from '../../../migrations/1798940200000-CheckInHeldAnswers'
import { BotLoggedIn } from '../../kernel/events'
import { AnswerBatcher, CheckInAnswersDue } from './check-in.batcher'
import { CheckInAnswerEntity, CheckInDayEntity, CheckInEntity, CheckInMemberEntity, CheckInReminderEntity, PointsLedgerEntity } from './check-in.entity'
import { checkInMiddleware, keywordsOf } from './check-in.middleware'
import { normalizeCommand } from '../../text/normalize'
import { checkInRoutes } from './check-in.routes'
import { CheckInRuleSchema, type CheckInRule } from './check-in.rules'
import { checkInDay, CheckInService } from './check-in.service'

/**
 * check-in: daily 签到 with streaks, points, make-up days and leaderboards — exactly once per member per
 * day (the group's day), enforced by unique keys. Answers are batched at busy moments. Provides the
 * points ledger (`points`) and check-in facts (`check-ins`) to other features.
 */
export const checkInFeature = defineFeature<CheckInRule>({
  name: 'check-in',
  rules: { schema: CheckInRuleSchema },
  entities: [CheckInEntity, CheckInDayEntity, CheckInMemberEntity, PointsLedgerEntity, CheckInReminderEntity, CheckInAnswerEntity],
  personalData: {
    purpose: 'Daily check-ins, streaks, points and make-up cards per member, and the answers waiting to be sent.',
    tables: [
      { entity: CheckInEntity, dataClass: 'rollups', timeColumn: 'at', memberColumns: ['memberId'], groupColumn: 'groupId', onErase: 'delete' },
      { entity: CheckInMemberEntity, dataClass: 'profile', agesWith: { table: 'qy_member', on: { groupId: 'groupId', memberId: 'memberId' }, timeColumn: 'leftAt' }, memberColumns: ['memberId'], textColumns: ['name'], nameColumns: ['name'], groupColumn: 'groupId', onErase: 'delete' },
      { entity: PointsLedgerEntity, dataClass: 'rollups', timeColumn: 'at', memberColumns: ['memberId'], textColumns: ['reason'], groupColumn: 'groupId', onErase: 'delete' },
      { entity: CheckInAnswerEntity, dataClass: 'delivery-logs', timeColumn: 'at', memberColumns: ['memberId'], textColumns: ['single', 'line'], groupColumn: 'groupId', onErase: 'delete' },
    ],
  },
  migrations: [CheckIn1764000000000, CheckInAnswers1797050000000, RetentionIndexCheckIn1798001000000, CheckInHeldAnswers1798940200000],
  events: { emits: [CheckInCompleted, CheckInAnswersDue], consumes: [CheckInAnswersDue, BotLoggedIn] },
  inject: [DIRECTORY],
  provides: [POINTS, CHECK_INS],
  setup(app) {
    const directory = app.use(DIRECTORY)
    const service = new CheckInService(app.store)
    app.provide(POINTS, {
      balance: (groupId, memberId) => service.balance(groupId, memberId),
      spend: (input) => service.spend(input),
      refund: (input) => service.refund(input),
    })
    app.provide(CHECK_INS, { membersOn: (g, days) => service.membersOn(g, days), streaks: (g, ids, today) => service.streaks(g, ids, today) })
    const batcher = new AnswerBatcher({
      db: app.store, clock: app.clock, outbound: app.outbound, log: app.log,
      maxPerMessage: async (groupId) => (await app.rules.forGroup(groupId)).batch.maxPerMessage,
      header: async (groupId) => (await app.rules.forGroup(groupId)).texts.batchHeader,
      closeDue: (windowKey, groupId) => app.events.emit(CheckInAnswersDue.of({ id: `check-in.answersDue:${windowKey}:${app.clock.now()}`, at: app.clock.now(), groupId, windowKey })),
    })
    const sweep = async (botId?: string): Promise<void> => {
      try { await batcher.held.sweep({ botId }) } catch (error) { app.log.error('check-in answers sweep failed (the next one retries)', { bot: botId, error: errorText(error) }) }
    }
    return {
      middleware: checkInMiddleware({ service, batcher, rules: app.rules }),
      // Kept when a full group sheds: check-ins, make-ups and the leaderboards.
      isCommand: async (message) => {
        if (message.type !== 'text' || message.text.length > 40) return false
        const k = keywordsOf(await app.rules.forGroup(message.groupId))
        const command = normalizeCommand(message.text)
        return k.checkIn.has(command) || command.startsWith(k.makeUp) || command === k.streakBoard || command === k.pointsBoard
      },
      routes: checkInRoutes({ db: app.store, clock: app.clock, service, facts: (groupId) => directory.find(groupId), rules: app.rules.forGroup, pseudonym: (id) => app.pseudonym(id) }),
      jobs: [{
        // Every minute: answers a crash left unanswered (stored with their check-in, lost from a batch window
        // in memory, or sent and not yet marked) go out once, under their batch's keys.
        name: 'check-in.answers',
        cron: '* * * * *',
        run: () => sweep(),
      }, {
        // Every minute: groups whose reminder time has come (in their timezone) get one reminder a day.
        name: 'check-in.reminders',
        cron: '* * * * *',
        async run(fireTime) {
          for (const g of await directory.activeGroups()) {
            const rule = await app.rules.forGroup(g.id)
            if (!rule.enabled || !rule.reminder.enabled) continue
            const now = app.clock.now()
            const local = localTime(now, g.timezone)
            const [h, m] = rule.reminder.time.split(':').map(Number) as [number, number]
            // Due from the set minute until an hour after (a restart or a missed tick still reminds, once).
            const minutes = local.hour * 60 + local.minute - (h * 60 + m)
            if (minutes < 0 || minutes > 60) continue
            const day = checkInDay(now, g.timezone, rule.dayStart)
            try {
              await app.store.repo(CheckInReminderEntity).insert({ groupId: g.id, day, at: now })
            } catch (error) {
              if (isDuplicate(error)) continue // already reminded today (another replica, or an earlier tick)
              throw error
            }
            app.outbound.say({ botId: g.botId, groupId: g.id }, rule.texts.reminder, { cause: `check-in.reminder:${fireTime.getTime()}`, note: 'check-in reminder' })
          }
        },
      }],
      onEvent: async (event) => {
        if (CheckInAnswersDue.is(event)) await batcher.held.close(event.windowKey)
        // A bot logged in here (a start, or a takeover): what its previous process held goes out now.
        else if (BotLoggedIn.is(event)) await sweep(event.botId)
      },
      flush: () => batcher.held.settled(),
      drain: () => batcher.flushAll(),
    }
  },
})
