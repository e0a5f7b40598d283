import { Chat, type Person } from './support/chat'
import { captureLogger, cleanup, COORDINATION, STORAGE, tempDir } from './support/env'
import { OutboundEntity } from '../src/adapters/db/core.entity'

afterAll(cleanup, 180_000) // dropping each test's database takes seconds on a loaded MariaDB

const bob: Person = { id: 'bob', name: '阿强' }
const carol: Person = { id: 'carol', name: '小雨' }
const START = Date.parse('2026-11-23T09:00:00+08:00')
const MINUTE = 60_000
const WAITS = 'outbound: bot offline, actions wait for its login'

/**
 * A chat that sends with production's jitter (so queued actions wait their turn on the fake clock, as they
 * do in a real account), check-in answers not batched, and moderation removing an advert at once.
 */
function start(opts: { sqlitePath?: string; log?: ReturnType<typeof captureLogger> } = {}): Promise<Chat> {
  return Chat.start({
    start: START,
    sqlitePath: opts.sqlitePath,
    log: opts.log,
    configOverrides: { outbound: { jitterMs: [800, 2500] } },
    groups: [{ id: 'g1', name: '读书会', members: [{ id: 'alice', name: 'Alice', role: 'owner' }, { id: 'bob', name: '阿强' }, { id: 'carol', name: '小雨' }] }],
    rules: { g1: { 'check-in': { batch: { windowMs: 0 } }, moderation: { enabled: true, words: { action: 'remove' } } } },
  })
}

/** Resolves at the runtime's next observed event of `type` (bounded in real time). */
function nextEvent(chat: Chat, type: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { dispose(); reject(new Error(`no ${type} event`)) }, 10_000)
    const dispose = chat.runtime.observe((o) => {
      if (o.kind === 'event' && o.event.type === type) { clearTimeout(timer); dispose(); resolve() }
    })
  })
}

let seq = 0
/** `who` says `text`; resolves once the pipeline processed it, while its answers still wait their turn. */
async function hear(chat: Chat, who: Person, text: string): Promise<void> {
  const id = `offline-${seq++}`
  const processed = chat.rehearsal.waitFor((o) => o.kind === 'message' && o.id === id, `message ${id}`)
  chat.rehearsal.world.say('g1', who.id, text, id)
  await processed
}

/** The account drops off the platform (as a WorkPro session does when the connection is lost). */
async function logout(chat: Chat): Promise<void> {
  const out = nextEvent(chat, 'bot.loggedOut')
  await chat.rehearsal.world.puppet.logout('connection lost')
  await out
  await chat.rehearsal.quiesce()
}

/** The account logs back in; resolves when its groups are synced and the queue is quiet again. */
async function login(chat: Chat): Promise<void> {
  const synced = nextEvent(chat, 'group.synced')
  chat.rehearsal.world.login()
  await synced
  await chat.rehearsal.quiesce()
}

/** The outbound queue's rows, oldest first. */
async function outboundRows(chat: Chat): Promise<Array<{ kind: string; status: string; attempts: number }>> {
  const rows = await chat.runtime.db.getRepository(OutboundEntity).find({ order: { id: 'ASC' } })
  return rows.map((r) => ({ kind: r.kind, status: r.status, attempts: r.attempts }))
}

/** Result of the removal recorded by moderation for carol. */
async function removalResult(chat: Chat): Promise<string[]> {
  const rows: Array<{ result: string }> = await chat.runtime.db.query("SELECT result FROM qy_moderation_event WHERE member_id = ? AND action = 'remove'", [carol.id])
  return rows.map((r) => r.result)
}

/** Direct messages the bot sent to the group owner (e.g. "could not remove …"). */
function toOwner(chat: Chat): unknown[] {
  return chat.rehearsal.actions.filter((a) => a.kind === 'say' && a.groupId === 'alice')
}

/** bob checks in and carol posts an advert; the account drops while the answer and the removal wait their turn. */
async function checkInAndAdvertThenLogout(log: ReturnType<typeof captureLogger>): Promise<Chat> {
  const chat = await start({ log })
  await hear(chat, bob, '签到')
  await hear(chat, carol, '加微信领取资料')
  await logout(chat)
  return chat
}

describe(`actions while the bot is logged out (${STORAGE} + ${COORDINATION})`, () => {
  let chat: Chat
  afterEach(async () => { await chat?.close() })

  it('wait for the login: the check-in answer and the removal go out, in order, when the bot is back', async () => {
    const log = captureLogger()
    chat = await checkInAndAdvertThenLogout(log)
    const g1 = chat.group('g1')
    await chat.rehearsal.advance(45_000)
    // Nothing reached the platform while logged out, and nothing was given up on.
    expect(chat.pending()).toEqual([])
    expect(await outboundRows(chat)).toEqual([
      { kind: 'say', status: 'pending', attempts: 0 }, { kind: 'remove', status: 'pending', attempts: 0 }, { kind: 'say', status: 'pending', attempts: 0 },
    ])
    expect(log.lines.filter((l) => l.message === WAITS).map((l) => l.meta)).toEqual([{ bot: 'rehearsal', waiting: 3 }])

    await login(chat)
    g1.expectReply(/签到成功！今天第 1 个签到/, bob)
    g1.expectRemoved(carol)
    g1.expectReply(/小雨 多次违反群规.*已被移出本群/)
    expect(await outboundRows(chat)).toEqual([
      { kind: 'say', status: 'sent', attempts: 1 }, { kind: 'remove', status: 'sent', attempts: 1 }, { kind: 'say', status: 'sent', attempts: 1 },
    ])
    expect(await removalResult(chat)).toEqual(['done'])
    expect(toOwner(chat)).toEqual([])
    expect(chat.rehearsal.world.members('g1')).not.toContain(carol.id)
  })

  it('after an outage longer than a reply may wait, the replies are recorded expired and not sent; the removal is performed', async () => {
    const log = captureLogger()
    chat = await checkInAndAdvertThenLogout(log)
    const g1 = chat.group('g1')
    await chat.rehearsal.advance(15 * MINUTE)
    await login(chat)
    g1.expectRemoved(carol)
    g1.expectNoReply()
    expect(chat.pending()).toEqual([])
    expect(await outboundRows(chat)).toEqual([
      { kind: 'say', status: 'expired', attempts: 0 }, { kind: 'remove', status: 'sent', attempts: 1 }, { kind: 'say', status: 'expired', attempts: 0 },
    ])
    // An expired reply is not a failed removal: nothing bogus for the owner.
    expect(await removalResult(chat)).toEqual(['done'])
    expect(toOwner(chat)).toEqual([])
    const expired = log.lines.filter((l) => l.message.startsWith('outbound: expired actions dropped'))
    expect(expired.reduce((n, l) => n + (l.meta.count as number), 0)).toBe(2)
    expect(expired.every((l) => Object.keys(l.meta.kinds as object).join() === 'say')).toBe(true)
  })

  it('a restart while logged out keeps the waiting actions: performed once at the next login', async () => {
    chat = await start({ sqlitePath: `${tempDir()}/qunyun.sqlite` })
    await hear(chat, carol, '加微信领取资料')
    await logout(chat)
    await chat.rehearsal.advance(2 * MINUTE)
    expect(await outboundRows(chat)).toEqual([{ kind: 'remove', status: 'pending', attempts: 0 }, { kind: 'say', status: 'pending', attempts: 0 }])
    await chat.rehearsal.restart()
    const g1 = chat.group('g1')
    g1.expectRemoved(carol)
    g1.expectReply(/小雨 多次违反群规.*已被移出本群/)
    expect(chat.pending()).toEqual([])
    expect(await outboundRows(chat)).toEqual([{ kind: 'remove', status: 'sent', attempts: 1 }, { kind: 'say', status: 'sent', attempts: 1 }])
  })
})
