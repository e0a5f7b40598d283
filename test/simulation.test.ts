import type { BotDefinition } from '../src/config/config.schema'
import { Runtime } from '../src/main'
import { FakeClock } from '../src/ports/clock'
import { seededRandom } from '../src/ports/random'
import { activityAt, CompressedDay, SIMULATED_DAY_MS } from '../src/simulation/community'
import type { BotActionKind } from '../src/simulation/narrator'
import { VirtualTime } from '../src/simulation/virtual-time'
import { captureLogger, cleanup, COORDINATION, STORAGE, testConfig } from './support/env'

afterAll(cleanup, 180_000) // dropping each test's database takes seconds on a loaded MariaDB

/** The bot of `npm start` without a token. */
const BOT: BotDefinition = {
  id: 'main', name: '群运助手', puppet: 'auto', tokenEnv: 'WECHATY_PUPPET_SERVICE_TOKEN', rulePack: 'default.yaml', groups: 'all',
  resolvedPuppet: 'mock', token: null, file: '(test)',
}

/** The sending limits of config/default.yaml (the test configuration has none). */
const PRODUCTION_OUTBOUND = { perAccount: { perMinute: 20, burst: 3 }, perGroup: { perMinute: 6, burst: 2 }, jitterMs: [800, 2500] }

describe('the compressed simulated day', () => {
  it('starts at dawn and runs a whole day in ten real minutes', () => {
    const day = new CompressedDay(1_000_000)
    expect(day.hourOfDay(1_000_000)).toBe(6)
    expect(day.hourOfDay(1_000_000 + SIMULATED_DAY_MS / 24)).toBeCloseTo(7)
    expect(day.hourOfDay(1_000_000 + (SIMULATED_DAY_MS * 18) / 24)).toBeCloseTo(0)
    expect(day.dayAt(1_000_000 + (SIMULATED_DAY_MS * 18) / 24)).toBe(1)
    expect(day.realTime(1, 6)).toBe(1_000_000 + SIMULATED_DAY_MS)
    expect(activityAt(7)).toBeGreaterThan(activityAt(15))
    expect(activityAt(3)).toBeLessThan(activityAt(15) / 3)
  })
})

describe(`the simulated community of npm start (${STORAGE} + ${COORDINATION})`, () => {
  it.each([11, 12])('shows every feature acting within its first minute, whatever the local time (seed %i)', async (seed) => {
    // 03:00 in Shanghai, when a real community sleeps: the simulated day still starts at dawn.
    const clock = new FakeClock(Date.parse('2026-11-23T03:00:00+08:00'))
    const config = await testConfig({ outbound: PRODUCTION_OUTBOUND, simulation: { mode: 'on', groups: 4, minMembers: 20, maxMembers: 80, messagesPerMinute: 40 } })
    const log = captureLogger()
    const runtime = new Runtime(config, { log, clock, random: seededRandom(seed), bots: [BOT], sqlitePath: ':memory:', http: false, scheduler: false, simulation: true })
    const time = new VirtualTime(clock, () => runtime, () => runtime.worlds.get(BOT.id))
    runtime.observe((o) => time.observed(o))
    try {
      await runtime.start()
      time.reset()
      const started = clock.now()
      await time.runUntil(started + 60_000)

      const world = runtime.worlds.get(BOT.id)
      if (!world || !runtime.narrator) throw new Error('the runtime did not start the simulated community')
      const tally = (kind: BotActionKind): number => runtime.narrator?.tally.get(kind) ?? 0
      // What the bot performed on the platform in that minute, by what it was for.
      for (const kind of ['welcome', 'check-in', 'make-up', 'auto-reply', 'warning', 'final warning', 'removal'] as const) {
        expect([kind, tally(kind)]).toEqual([kind, expect.any(Number)])
        expect(tally(kind)).toBeGreaterThanOrEqual(1)
      }
      const actions = world.puppet.actions.filter((a) => a.at <= started + 60_000)
      // The removal is real: a spammer, no longer in the group.
      const removals = actions.filter((a) => a.kind === 'remove')
      expect(removals.length).toBe(tally('removal'))
      for (const r of removals) {
        expect(r.memberId).toMatch(/^sim-spam-/)
        expect(world.isMember(r.groupId as string, r.memberId as string)).toBe(false)
      }
      // Every message the narrator told about went out on the platform.
      const says = actions.filter((a) => a.kind === 'say').length
      const told = [...(runtime.narrator.tally.entries())].filter(([k]) => k !== 'removal').reduce((n, [, v]) => n + v, 0)
      expect(told).toBeLessThanOrEqual(says)
      // One info line per action, never the text of a message.
      const lines = log.lines.filter((l) => l.level === 'info' && l.message.startsWith('bot action: '))
      expect(lines.length).toBeGreaterThanOrEqual(tally('welcome') + tally('auto-reply') + tally('warning') + tally('removal'))
      expect(lines.map((l) => l.message)).toEqual(expect.arrayContaining([
        expect.stringMatching(/^bot action: welcome \(\d newcomers?\)$/),
        expect.stringMatching(/^bot action: check-ins? answered \(/),
        expect.stringMatching(/^bot action: auto-reply \(rule (价格|报名|资料)\)$/),
        expect.stringMatching(/^bot action: warning \(strike 1, /),
        expect.stringMatching(/^bot action: removed \(strike 3, /),
      ]))
      // The showcase: the lottery members entered is drawn by the lottery job at the next minute, the topic
      // share goes out at that minute (the scheduler's minute ticks, run here on the fake clock), the
      // stats of the day are logged from the stats report, and lifecycle moves are told.
      const tick = Math.ceil((started + 1) / 60_000) * 60_000
      await time.runUntil(tick)
      for (const job of ['lottery.tick', 'scheduled-share.tick']) await expect(runtime.scheduler.runFenced(job, new Date(tick))).resolves.toBe('ran')
      // The account's sending budget (20 a minute, 6 per group) spreads what is due over the next minute.
      await time.runUntil(tick + 45_000)
      await time.drain('outbound', 120_000)
      for (const kind of ['lottery entry', 'lottery draw', 'topic share'] as const) {
        expect([kind, tally(kind)]).toEqual([kind, expect.any(Number)])
        expect(tally(kind)).toBeGreaterThanOrEqual(1)
      }
      // Every group gets the share once.
      expect(tally('topic share')).toBe(4)
      const info = log.lines.filter((l) => l.level === 'info').map((l) => l.message)
      expect(info).toEqual(expect.arrayContaining([
        expect.stringMatching(/^bot action: lottery \S+ drawn \(1 winners here\)$/),
        expect.stringMatching(/^bot action: share post /),
        expect.stringMatching(/^member lifecycle: -→new \(joined\)$/),
        'stats today (GET /api/v1/stats/overview)',
      ]))
      // Lifecycle lines name members by pseudonym only, like every other line (no simulated member's id).
      const moves = log.lines.filter((l) => l.message.startsWith('member lifecycle: '))
      expect(moves.length).toBeGreaterThan(0)
      for (const l of moves) expect((l.meta as { member: string }).member).toMatch(/^~[0-9a-f]{16}$/)
      const ids = new Set([...world.mocker.cacheMessagePayload.values()].map((p) => p.talkerId).filter((id): id is string => typeof id === 'string' && id.startsWith('sim-')))
      expect(ids.size).toBeGreaterThan(5)
      const infoLogged = JSON.stringify(log.lines.filter((l) => l.level !== 'debug'))
      for (const id of ids) expect(infoLogged).not.toContain(`"${id}"`)
      const stats = log.lines.find((l) => l.message.startsWith('stats today'))
      expect(stats?.meta).toEqual(expect.objectContaining({ messages: expect.any(Number), activeMembers: expect.any(Number) }))
      expect((stats?.meta as { messages: number }).messages).toBeGreaterThan(10)
      const texts = [...world.mocker.cacheMessagePayload.values()].map((p) => p.text ?? '').filter((t) => t.length >= 4)
      const logged = JSON.stringify(log.lines.filter((l) => l.level !== 'debug'))
      for (const text of texts) expect(logged).not.toContain(text)
    } finally {
      await runtime.stop()
    }
  }, 120_000)
})
