/**
 * Outbound claims on the real database (SQLite always; MySQL when QUNYUN_DB_URL is set): two replicas'
 * queues share one qy_outbound table, and every action is performed once, by the replica holding its claim.
 */
import type { DataSource } from 'typeorm'
import { databaseSchema, dataSourceOptions, openDatabase } from '../src/adapters/db/data-source'
import { DbOutboundStore } from '../src/adapters/db/outbound-store'
import { OutboundEntity } from '../src/adapters/db/core.entity'
import { OutboundActionKey1798920000000 } from '../migrations/1798920000000-OutboundActionKey'
import type { OutboundAction } from '../src/kernel/context'
import { OutboundQueue, type ReplicaRole } from '../src/kernel/outbound'
import { FakeClock } from '../src/ports/clock'
import { MemoryRateLimiter } from '../src/ports/memory'
import { seededRandom } from '../src/ports/random'
import { cleanup, silentLogger, STORAGE, tempDir, testConfig } from './support/env'

const GENEROUS = { capacity: 1000, refillPerSec: 1000 }
const say = (groupId: string, text: string, botId = 'bot1'): OutboundAction => ({ kind: 'say', botId, groupId, text })
const CLAIM_TTL = 60_000

let db: DataSource
let store: DbOutboundStore

beforeAll(async () => {
  const config = await testConfig()
  db = await openDatabase(dataSourceOptions(config, databaseSchema([]), `${tempDir()}/claims.sqlite`))
  store = new DbOutboundStore(db)
})

afterAll(async () => {
  await db?.destroy()
  await cleanup()
})

beforeEach(async () => { await db.getRepository(OutboundEntity).clear() })

/** Stores an action (without a key: always a new row) and returns its id. */
async function put(...args: Parameters<DbOutboundStore['save']>): Promise<number> {
  const id = await store.save(...args)
  if (id === null) throw new Error('an action without a key was refused as a duplicate')
  return id
}

/** One replica's queue on the shared store; `performed` is what it sent to the platform. */
function replica(id: string, clock: FakeClock, holds: Set<string>, handoffs: string[] = []) {
  const performed: string[] = []
  const role: ReplicaRole = { id, claimTtlMs: CLAIM_TTL, holds: (b) => holds.has(b), handoff: (b) => { handoffs.push(b) } }
  const queue = new OutboundQueue({
    performer: { perform: async (a) => { performed.push(a.kind === 'say' ? a.text : a.kind) } },
    rateLimiter: new MemoryRateLimiter(clock), clock, random: seededRandom(1), log: silentLogger,
    settings: { perAccount: GENEROUS, perGroup: GENEROUS, jitterMs: [0, 0], maxAttempts: 3, retryBaseMs: 10 },
    store, replica: role,
  })
  return { queue, performed, handoffs }
}

async function until(predicate: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await predicate()) return
    await new Promise((r) => setTimeout(r, 10))
  }
  throw new Error(`timed out waiting for ${what}`)
}

const statuses = async (): Promise<Record<string, string>> => {
  const rows = await db.getRepository(OutboundEntity).find({ order: { id: 'ASC' } })
  return Object.fromEntries(rows.map((r) => [(r.payload as { text: string }).text, `${r.status}:${r.claimOwner ?? '-'}`]))
}

describe(`outbound claims (${STORAGE})`, () => {
  it('pending(claim) takes only unclaimed, expired or own rows, in one statement; a live foreign claim is left alone', async () => {
    const now = 1_000_000
    const a = await put(say('g1', 'unclaimed'), now, null)
    const b = await put(say('g1', 'live-other'), now, { owner: 'r2', now, until: now + CLAIM_TTL })
    const c = await put(say('g1', 'expired-other'), now, { owner: 'r2', now, until: now - 1 })
    const d = await put(say('g1', 'mine'), now, { owner: 'r1', now, until: now + 5 })
    const e = await put(say('g1', 'other-bot', 'bot2'), now, null)
    const got = await store.pending('bot1', { owner: 'r1', now, until: now + CLAIM_TTL })
    expect(got.map((r) => r.id)).toEqual([a, c, d])
    expect(b).toBeGreaterThan(a)
    // Both replicas claiming at the same moment: each row ends up with exactly one of them.
    await store.releaseClaims('bot1', 'r1')
    const [x, y] = await Promise.all([
      store.pending('bot1', { owner: 'r1', now: now + 1, until: now + CLAIM_TTL }),
      store.pending('bot1', { owner: 'r3', now: now + 1, until: now + CLAIM_TTL }),
    ])
    const ids = [...x, ...y].map((r) => r.id).sort((p, q) => p - q)
    expect(ids).toEqual([a, c, d])
    expect((await store.pending('bot2', { owner: 'r1', now, until: now + 1 })).map((r) => r.id)).toEqual([e])
  })

  it('begin() admits only the claim owner of a pending row, once it is finished never again', async () => {
    const now = 2_000_000
    const id = await put(say('g1', 'x'), now, { owner: 'r1', now, until: now + CLAIM_TTL })
    await expect(store.begin(id, { owner: 'r2', now, until: now + CLAIM_TTL })).resolves.toBe(false)
    await expect(store.begin(id, { owner: 'r1', now, until: now + CLAIM_TTL })).resolves.toBe(true)
    await store.finish(id, { status: 'sent', attempts: 1, at: now }, 'r1')
    await expect(store.begin(id, { owner: 'r1', now, until: now + CLAIM_TTL })).resolves.toBe(false)
    // An outcome from a replica that lost the claim is not recorded over the owner's.
    const other = await put(say('g1', 'y'), now, { owner: 'r2', now, until: now + CLAIM_TTL })
    await store.finish(other, { status: 'failed', attempts: 1, at: now }, 'r1')
    expect((await statuses()).y).toBe('pending:r2')
  })

  it('two replicas resuming the same bot perform every stored action exactly once', async () => {
    const clock = new FakeClock(Date.now())
    for (let i = 0; i < 30; i++) await put(say(`g${i % 3}`, `m${i}`), clock.now(), null)
    const holds = new Set(['bot1'])
    const r1 = replica('r1', clock, holds)
    const r2 = replica('r2', clock, holds)
    await Promise.all([r1.queue.resume('bot1'), r2.queue.resume('bot1'), r1.queue.resume('bot1'), r2.queue.resume('bot1')])
    await until(async () => Object.values(await statuses()).every((s) => s.startsWith('sent')), 'all sent')
    const all = [...r1.performed, ...r2.performed].sort()
    expect(all).toHaveLength(30)
    expect(new Set(all).size).toBe(30)
  })

  it('an action enqueued on a replica that does not run the bot is stored unclaimed and handed to the holder', async () => {
    const clock = new FakeClock(Date.now())
    const handoffs: string[] = []
    const r1 = replica('r1', clock, new Set(), handoffs)
    const r2 = replica('r2', clock, new Set(['bot1']))
    r1.queue.enqueue(say('g1', 'from a job on r1'))
    await until(() => handoffs.length === 1, 'handoff')
    expect(handoffs).toEqual(['bot1'])
    expect(r1.queue.size).toBe(0)
    expect(await statuses()).toEqual({ 'from a job on r1': 'pending:-' })
    await r2.queue.resume('bot1')
    await until(() => r2.performed.length === 1, 'performed by the holder')
    expect(r1.performed).toEqual([])
    expect(await statuses()).toEqual({ 'from a job on r1': 'sent:r2' })
  })

  it('a dead replica\'s claims are taken over only after they expire; abandon() hands them over at once', async () => {
    const clock = new FakeClock(Date.now())
    // r1 claimed three actions and died before performing them.
    for (const t of ['a', 'b', 'c']) await put(say('g1', t), clock.now(), { owner: 'r1', now: clock.now(), until: clock.now() + CLAIM_TTL })
    const r2 = replica('r2', clock, new Set(['bot1']))
    await expect(r2.queue.resume('bot1')).resolves.toBe(0)
    clock.set(clock.now() + CLAIM_TTL + 1)
    await expect(r2.queue.resume('bot1')).resolves.toBe(3)
    await until(() => r2.performed.length === 3, 'takeover')
    expect(r2.performed).toEqual(['a', 'b', 'c'])

    // A live replica whose lease moved: abandon() releases its claims, the new holder takes them at once.
    const holdsOn3 = new Set(['bot1'])
    const r3 = replica('r3', clock, holdsOn3)
    r3.queue.offline('bot1')
    r3.queue.enqueue(say('g1', 'd'))
    await until(async () => (await statuses()).d === 'pending:r3', 'stored with r3\'s claim')
    holdsOn3.delete('bot1')
    await r3.queue.abandon('bot1')
    expect(r3.queue.size).toBe(0)
    await expect(r2.queue.resume('bot1')).resolves.toBe(1)
    await until(() => r2.performed.length === 4, 'performed by the new holder')
    r3.queue.online('bot1')
    expect(r3.performed).toEqual([])
  })

  it('a replica whose claim was taken over does not perform the action (at most once per claim)', async () => {
    const clock = new FakeClock(Date.now())
    const r1 = replica('r1', clock, new Set(['bot1']))
    r1.queue.offline('bot1')
    r1.queue.enqueue(say('g1', 'contested'))
    await until(async () => (await statuses()).contested === 'pending:r1', 'stored')
    // r1 stalls past its claim; r2 (the bot's new holder) takes the row over and performs it.
    clock.set(clock.now() + CLAIM_TTL + 1)
    const r2 = replica('r2', clock, new Set(['bot1']))
    await r2.queue.resume('bot1')
    await until(() => r2.performed.length === 1, 'r2 performs')
    // r1 wakes up with the action still in its lane: begin() refuses, nothing is sent twice.
    r1.queue.online('bot1')
    await until(() => r1.queue.size === 0, 'r1 lane empties')
    expect(r1.performed).toEqual([])
    expect(await statuses()).toEqual({ contested: 'sent:r2' })
  })

  it('an action with a key is stored once: two replicas queueing it at the same moment perform it once, and existingKeys() finds it', async () => {
    const clock = new FakeClock(Date.now())
    const holds = new Set(['bot1'])
    const r1 = replica('r1', clock, holds)
    const r2 = replica('r2', clock, holds)
    const keyed = (text: string): OutboundAction => ({ ...say('g1', text), cause: 'share:7:text', key: 'share:7:text' })
    await expect(store.storedKeys(['share:7:text'])).resolves.toEqual(new Set())
    await expect(r1.queue.existingKeys(['share:7:text'])).resolves.toEqual(new Set())
    r1.queue.enqueue(keyed('first'))
    // Known at once on the replica that queued it (before its row is written), then in the store.
    await expect(r1.queue.existingKeys(['share:7:text'])).resolves.toEqual(new Set(['share:7:text']))
    r2.queue.enqueue(keyed('second'))
    // Actions without a key are never refused, however alike.
    r1.queue.enqueue(say('g2', 'plain'))
    r2.queue.enqueue(say('g2', 'plain'))
    await r1.queue.stored()
    await r2.queue.stored()
    await expect(store.storedKeys(['share:7:text'])).resolves.toEqual(new Set(['share:7:text']))
    await expect(r2.queue.existingKeys(['share:7:text'])).resolves.toEqual(new Set(['share:7:text']))
    await until(() => r1.queue.size === 0 && r2.queue.size === 0, 'queues empty')
    const rows = await db.getRepository(OutboundEntity).find({ order: { id: 'ASC' } })
    expect(rows.map((r) => [r.actionKey, r.status])).toEqual([['share:7:text', 'sent'], [null, 'sent'], [null, 'sent']])
    expect([...r1.performed, ...r2.performed].sort()).toEqual(['first', 'plain', 'plain'])
    // Once performed it still counts: a later re-post under the key is refused.
    await expect(store.save(keyed('late'), clock.now(), null)).resolves.toBeNull()
  })

  it('the migration gives share actions stored before keys existed their cause as key (once each), so the share sweep finds them', async () => {
    const migration = new OutboundActionKey1798920000000()
    const runner = db.createQueryRunner()
    try {
      await migration.down(runner)
      const now = Date.now()
      const legacy = (cause: string | undefined, queuedAt = now): unknown[] => ['bot1', 'g1', 'say', JSON.stringify({ kind: 'say', botId: 'bot1', groupId: 'g1', text: 'x', cause }), 'pending', 0, queuedAt]
      for (const values of [legacy('share:5:text'), legacy('share:5:card'), legacy('share:5:text'), legacy('msg-1'), legacy(undefined), legacy('share:6:text', now - 3 * 86_400_000)]) {
        await runner.query('INSERT INTO qy_outbound (bot_id, group_id, kind, payload, status, attempts, queued_at) VALUES (?, ?, ?, ?, ?, ?, ?)', values)
      }
      await migration.up(runner)
    } finally {
      await runner.release()
    }
    const rows = await db.getRepository(OutboundEntity).find({ order: { id: 'ASC' } })
    expect(rows.map((r) => r.actionKey)).toEqual(['share:5:text', 'share:5:card', null, null, null, null])
    await expect(store.storedKeys(['share:5:card'])).resolves.toEqual(new Set(['share:5:card']))
  })
})
