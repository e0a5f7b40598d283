/**
 * Log safety (issue 19): a busy simulated day — the built-in community chatting, checking in, asking the
 * FAQ, spamming and being warned and removed, newcomers welcomed, a lottery entered and drawn, every
 * scheduled job (retention purges included) run once — through the real runtime and winston (the
 * process logger of src/logging.ts, JSON, level info). No line at info or above may contain the text of
 * any message (members' or the bot's), any member's name or any member's id: members are written as
 * pseudonyms (`~` + 16 hex digits; `qunyun member pseudonym ID` prints what to grep for), error texts that
 * quote an id included.
 */
import { Writable } from 'node:stream'
import type { BotDefinition } from '../src/config/config.schema'
import { groupScope, type Principal } from '../src/kernel/auth'
import type { RouteDefinition } from '../src/kernel/routes'
import { createLogger } from '../src/logging'
import { Runtime } from '../src/main'
import { FakeClock } from '../src/ports/clock'
import { seededRandom } from '../src/ports/random'
import { SIMULATED_DAY_MS } from '../src/simulation/community'
import { VirtualTime } from '../src/simulation/virtual-time'
import { cleanup, COORDINATION, STORAGE, testConfig } from './support/env'

afterAll(cleanup, 180_000) // dropping each test's database takes seconds on a loaded MariaDB

const BOT: BotDefinition = {
  id: 'main', name: '群运助手', puppet: 'auto', tokenEnv: 'WECHATY_PUPPET_SERVICE_TOKEN', rulePack: 'default.yaml', groups: 'all',
  resolvedPuppet: 'mock', token: null, file: '(test)',
}

const ADMIN: Principal = { tokenId: 0, name: 'log-safety', role: 'admin', scope: groupScope(true, []) }

/** Calls a route's handler as an admin (validation by its own schemas), without HTTP. */
async function call(routes: readonly RouteDefinition[], method: string, path: string, input: { params?: Record<string, string>; body?: unknown } = {}): Promise<unknown> {
  const route = routes.find((r) => r.method === method && r.path === path)
  if (!route) throw new Error(`no route ${method} ${path}`)
  return route.handler({
    params: route.params ? route.params.parse(input.params ?? {}) : {}, query: route.query ? route.query.parse({}) : {},
    body: route.body ? route.body.parse(input.body) : undefined, requestId: 'log-safety', log: { error() {}, warn() {}, info() {}, debug() {}, child() { return this } }, auth: ADMIN, audit: () => undefined,
  })
}

/** One captured winston line (JSON format) and where a secret showed up in it. */
interface Leak { kind: 'text' | 'name' | 'id'; secret: string; line: string }

/** Secrets found in log lines (lines are the serialised JSON winston wrote). */
function leaks(lines: readonly string[], secrets: { texts: Iterable<string>; names: Iterable<string>; ids?: Iterable<string> }): Leak[] {
  const out: Leak[] = []
  for (const [kind, list] of [['text', secrets.texts], ['name', secrets.names]] as const) {
    for (const secret of list) {
      const i = lines.findIndex((l) => l.includes(secret))
      if (i >= 0) out.push({ kind, secret, line: lines[i] as string })
    }
  }
  // An id counts where it stands on its own (`m1` is not inside `m10` or a pseudonym's hex digits).
  for (const id of secrets.ids ?? []) {
    const own = new RegExp(`(?<![A-Za-z0-9_-])${id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![A-Za-z0-9_-])`)
    const i = lines.findIndex((l) => own.test(l))
    if (i >= 0) out.push({ kind: 'id', secret: id, line: lines[i] as string })
  }
  return out
}

describe(`log safety over a busy simulated day (${STORAGE} + ${COORDINATION})`, () => {
  it('logs no message text, no member name and no member id at info or above', async () => {
    const clock = new FakeClock(Date.parse('2026-11-23T06:00:00+08:00'))
    const config = await testConfig({ log: { level: 'info', format: 'json' }, simulation: { mode: 'on', groups: 4, minMembers: 30, maxMembers: 80, messagesPerMinute: 120 } })
    const lines: string[] = []
    const sink = new Writable({ write(chunk: Buffer, _enc, done) { for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) lines.push(l); done() } })
    const log = createLogger(config, sink)
    const runtime = new Runtime(config, { log, clock, random: seededRandom(7), bots: [BOT], sqlitePath: ':memory:', http: false, scheduler: false, simulation: true })
    const time = new VirtualTime(clock, () => runtime, () => runtime.worlds.get(BOT.id))
    runtime.observe((o) => time.observed(o))
    const texts = new Set<string>()
    try {
      await runtime.start()
      const world = runtime.worlds.get(BOT.id)
      if (!world) throw new Error('no simulated world')
      // Every text a member says goes through world.say: remember it before the bot sees it.
      const say = world.say.bind(world)
      world.say = (room, memberId, message, id) => {
        const text = typeof message === 'string' ? message : message.text
        if (text) texts.add(text)
        return say(room, memberId, message, id)
      }
      time.reset()
      const started = clock.now()

      await time.runUntil(started + 60_000)
      // A lottery in the first group: members enter by keyword (the owner and admins are refused), it draws at 12 entries.
      const room = [...world.mocker.cacheRoomPayload.keys()].find((id) => id.startsWith('sim-')) as string
      // The simulated groups' pack leaves lotteries off: this group's owner turns them on.
      await call(runtime.routes, 'PUT', '/api/v1/groups/:id/rules/lottery', { params: { id: room }, body: { enabled: true } })
      const lottery = await call(runtime.routes, 'POST', '/api/v1/lotteries', { body: {
        title: '周末读书抽奖', groupIds: [room], prizes: [{ name: '签名书', quantity: 2 }], entry: { keyword: '抽奖' },
        times: { drawWhenEntries: 12 },
      } }) as { id: number }
      await call(runtime.routes, 'POST', '/api/v1/lotteries/:lotteryId/open', { params: { lotteryId: String(lottery.id) } })
      const entrants = world.members(room).filter((m) => m !== world.botId).slice(0, 20)
      entrants.forEach((m, i) => world.say(room, m, i % 2 === 0 ? '抽奖' : '抽奖！'))

      // The whole compressed day: morning rush, check-ins, FAQ, spam and removals, newcomers, quiet night.
      await time.runUntil(started + SIMULATED_DAY_MS)
      // Every job once (lottery draw, share, tagging, stats, retention purges of every class).
      for (const job of [...runtime.host.jobs(), ...runtime.retention.jobs()]) await runtime.scheduler.runFenced(job.name, new Date(clock.now()))
      // The first lottery tick closes it (12 entries), the next draws and announces the winners.
      await time.runUntil(clock.now() + 60_000)
      await runtime.scheduler.runFenced('lottery.tick', new Date(clock.now()))
      await time.runUntil(clock.now() + 30_000)
      await runtime.flush()

      // The day was busy, and the bot did everything it does.
      const actions = world.puppet.actions
      expect(texts.size).toBeGreaterThan(500)
      expect(actions.filter((a) => a.kind === 'say').length).toBeGreaterThan(50)
      expect(actions.filter((a) => a.kind === 'remove').length).toBeGreaterThanOrEqual(1)
      const entered = await call(runtime.routes, 'GET', '/api/v1/lotteries/:lotteryId', { params: { lotteryId: String(lottery.id) } })
      expect(entered).toMatchObject({ status: 'drawn' })
      const draw = await call(runtime.routes, 'GET', '/api/v1/lotteries/:lotteryId/winners', { params: { lotteryId: String(lottery.id) } }) as { items: unknown[] }
      expect(draw.items.length).toBe(2)
      // The bot's own texts (answers, welcomes with names, winners announced) are secrets too.
      for (const a of actions) if (a.kind === 'say' && typeof a.text === 'string') texts.add(a.text)
    } finally {
      await runtime.stop()
    }

    const world = runtime.worlds.get(BOT.id)
    const botName = BOT.name as string
    const contacts = [...(world?.mocker.cacheContactPayload.values() ?? [])].filter((c) => c.name !== botName)
    const names = new Set(contacts.map((c) => c.name).filter((n) => n && n.length >= 2))
    const ids = new Set(contacts.map((c) => c.id))
    // Short texts (签到, 早, 👍) are words, not content: any log line could contain them by chance.
    const secretTexts = [...texts].map((t) => t.trim()).filter((t) => [...t].length >= 6)
    expect(names.size).toBeGreaterThan(100)
    expect(secretTexts.length).toBeGreaterThan(300)
    expect(lines.length).toBeGreaterThan(50)

    // The scanner finds a leak when there is one (a planted line), so a clean result means something.
    const planted = JSON.stringify({ level: 'info', message: 'message received', text: secretTexts[0] })
    expect(leaks([planted], { texts: secretTexts, names: [] })).toHaveLength(1)
    const plantedName = JSON.stringify({ level: 'warn', message: 'member joined', who: [...names][0] })
    expect(leaks([plantedName], { texts: [], names })).toHaveLength(1)
    const plantedId = JSON.stringify({ level: 'warn', message: 'outbound: failed', error: `Error: member ${[...ids][0] ?? ''} is not in room g1@chatroom` })
    expect(leaks([plantedId], { texts: [], names: [], ids })).toHaveLength(1)
    expect(ids.size).toBeGreaterThan(100)

    const found = leaks(lines, { texts: secretTexts, names, ids })
    expect(found.slice(0, 10)).toEqual([])
  }, 600_000)
})
