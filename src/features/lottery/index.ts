import type { Config } from '../../config/config.schema'
import { defineFeature } from '../../adapters/db/feature-store'
import { ACCESS } from '../../contracts/access'
import { ACTIVITY } from '../../contracts/activity'
import { CHECK_INS, POINTS } from '../../contracts/check-in'
import { LotteryDrawn, LotteryEntered } from '../../contracts/lottery'
import { DIRECTORY } from '../../kernel/directory'
import { Lottery1796400000000 } from '../../../migrations/1796400000000-Lottery'
import { LotteryBeacon1797300000000 } from '../../../migrations/1797300000000-LotteryBeacon'
import { LotteryDrawIds1798700000000 } from '../../../migrations/1798700000000-LotteryDrawIds'
import { LotteryAnswers1798920000100 } from '../../../migrations/1798920000100-LotteryAnswers'
import { BotLoggedIn } from '../../kernel/events'
import { errorText } from '../../kernel/logger'
import { drandHttpBeacon } from '../../adapters/beacon/drand-http'
import { AnswerBatcher, LotteryAnswersDue } from './lottery.batcher'
import { LotteryAnswerEntity, LotteryDrawEntity, LotteryEntity, LotteryEntryEntity, LotteryWinnerEntity } from './lottery.entity'
import { LiveLotteries } from './lottery.live'
import { lotteryMiddleware } from './lottery.middleware'
import { normalizeCommand } from '../../text/normalize'
import { lotteryRoutes } from './lottery.routes'
import { LotteryRuleSchema, type LotteryRule } from './lottery.rules'
import { LotteryService } from './lottery.service'

/**
 * lottery: 抽奖 with draws anyone can verify. Owners define lotteries (prizes, groups, entry by keyword or
 * points, eligibility, times); members enter by keyword while one is open; a fenced job opens, closes and
 * draws them exactly once, from a seed committed to at open and an entrant list frozen at close (see
 * lottery.draw.ts and the README's verifier).
 */
export const lotteryFeature = defineFeature<LotteryRule, { beacon: Config['lottery']['beacon'] }>({
  name: 'lottery',
  rules: { schema: LotteryRuleSchema },
  entities: [LotteryEntity, LotteryEntryEntity, LotteryDrawEntity, LotteryWinnerEntity, LotteryAnswerEntity],
  personalData: {
    purpose: 'Lottery entries, winners and draw proofs; kept pseudonymous after erasure so past draws stay verifiable.',
    tables: [
      { entity: LotteryEntryEntity, dataClass: 'lottery-proofs', timeColumn: 'at', memberColumns: ['memberId'], textColumns: ['name'], nameColumns: ['name'], groupColumn: 'groupId', onErase: 'pseudonymise' },
      { entity: LotteryWinnerEntity, dataClass: 'lottery-proofs', timeColumn: 'at', memberColumns: ['memberId'], textColumns: ['name'], nameColumns: ['name'], groupColumn: 'groupId', onErase: 'pseudonymise' },
      { entity: LotteryDrawEntity, dataClass: 'lottery-proofs', timeColumn: 'at', mentionColumns: ['proof'], onErase: 'pseudonymise' },
      { entity: LotteryAnswerEntity, dataClass: 'delivery-logs', timeColumn: 'at', memberColumns: ['memberId'], textColumns: ['single', 'line'], groupColumn: 'groupId', onErase: 'delete' },
    ],
  },
  migrations: [Lottery1796400000000, LotteryBeacon1797300000000, LotteryDrawIds1798700000000, LotteryAnswers1798920000100],
  // Process config, not rules: the server fetches this URL, so only the operator names it.
  config: (c) => ({ beacon: c.lottery.beacon }),
  events: { emits: [LotteryEntered, LotteryDrawn, LotteryAnswersDue], consumes: [LotteryAnswersDue, BotLoggedIn] },
  inject: [DIRECTORY, ACCESS, POINTS, CHECK_INS, ACTIVITY],
  async setup(app) {
    const lotteries = new LiveLotteries({ db: app.store, pubsub: app.coordination.pubsub, access: app.use(ACCESS), clock: app.clock, log: app.log })
    await lotteries.start()
    const service = new LotteryService({
      store: app.store, clock: app.clock, random: app.random, outbound: app.outbound, events: app.events, log: app.log,
      directory: app.use(DIRECTORY), points: app.use(POINTS), checkIns: app.use(CHECK_INS), activity: app.use(ACTIVITY), rules: app.rules,
      beacon: app.config.beacon ? drandHttpBeacon(app.config.beacon) : null,
      changed: () => lotteries.changed(),
      pseudonym: (memberId) => app.pseudonym(memberId),
    })
    const batcher = new AnswerBatcher({
      db: app.store, clock: app.clock, outbound: app.outbound, log: app.log,
      maxPerMessage: async (groupId) => (await app.rules.forGroup(groupId)).batch.maxPerMessage,
      closeDue: (windowKey, groupId) => app.events.emit(LotteryAnswersDue.of({ id: `lottery.answersDue:${windowKey}:${app.clock.now()}`, at: app.clock.now(), groupId, windowKey })),
    })
    const sweep = async (botId?: string): Promise<void> => {
      try { await batcher.held.sweep({ botId }) } catch (error) { app.log.error('lottery answers sweep failed (the next one retries)', { bot: botId, error: errorText(error) }) }
    }
    return {
      middleware: lotteryMiddleware({ lotteries, service, batcher, rules: app.rules }),
      // Kept when a full group sheds: the entry keyword of a lottery the group may meet.
      isCommand: async (message) => {
        if (message.type !== 'text' || message.text.length > 40) return false
        const command = normalizeCommand(message.text)
        return command !== '' && (await lotteries.forGroup(message.groupId)).some((l) => l.keyword === command)
      },
      routes: lotteryRoutes({ db: app.store, service, pseudonym: (id) => app.pseudonym(id) }),
      jobs: [{
        // Every minute: open, close, draw what is due (state lives in the database: a restart or a missed
        // tick is caught up by the next one; the draw itself is fenced by its unique round row).
        name: 'lottery.tick',
        cron: '* * * * *',
        run: () => service.tick(),
      }, {
        // Every minute: answers a crash left in a batch window (stored, never sent) go out once.
        name: 'lottery.answers',
        cron: '* * * * *',
        run: () => sweep(),
      }],
      onEvent: async (event) => {
        if (LotteryAnswersDue.is(event)) await batcher.held.close(event.windowKey)
        // A bot logged in here (a start, or a takeover): what its previous process held goes out now.
        else if (BotLoggedIn.is(event)) await sweep(event.botId)
      },
      flush: () => batcher.held.settled(),
      drain: () => batcher.flushAll(),
      stop: () => lotteries.stop(),
    }
  },
})
