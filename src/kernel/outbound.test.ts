import type { OutboundAction } from './context'
import type { Logger } from './logger'
import {
  AlreadyDoneError,
  describeAction,
  expiryFromMinutes,
  isTransient,
  OfflineError,
  OutboundQueue,
  TransientError,
  type ActionPerformer,
  type OutboundListener,
  type OutboundSettings,
  type OutboundStore,
} from './outbound'
import { FakeClock } from '../ports/clock'
import { MemoryRateLimiter } from '../ports/memory'
import type { RateLimiter } from '../ports/ports'
import { seededRandom, type Random } from '../ports/random'

// ---------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------

const GENEROUS = { capacity: 1000, refillPerSec: 1000 }
/** FakeClock's default start. */
const CLOCK_START = Date.UTC(2026, 0, 1)

function settings(overrides: Partial<OutboundSettings> = {}): OutboundSettings {
  return {
    perAccount: GENEROUS,
    perGroup: GENEROUS,
    jitterMs: [0, 0],
    maxAttempts: 4,
    retryBaseMs: 1000,
    ...overrides,
  }
}

const say = (groupId: string, text: string, botId = 'bot1'): OutboundAction => ({ kind: 'say', botId, groupId, text })

interface LogLine { level: 'error' | 'warn' | 'info' | 'debug'; message: string; meta?: Record<string, unknown> }

function captureLogger(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = []
  const make = (): Logger => ({
    error: (message, meta) => { lines.push({ level: 'error', message, meta }) },
    warn: (message, meta) => { lines.push({ level: 'warn', message, meta }) },
    info: (message, meta) => { lines.push({ level: 'info', message, meta }) },
    debug: (message, meta) => { lines.push({ level: 'debug', message, meta }) },
    child: () => make(),
  })
  return Object.assign(make(), { lines })
}

interface Performed { action: OutboundAction; at: number }

/** A performer recording (action, time relative to the start); `behaviour` may throw or block per call. */
class FakePerformer implements ActionPerformer {
  readonly performed: Performed[] = []
  behaviour: (action: OutboundAction, call: number) => Promise<void> | void = () => {}
  constructor(private readonly clock: FakeClock, private readonly t0: number) {}
  async perform(action: OutboundAction): Promise<void> {
    this.performed.push({ action, at: this.clock.now() - this.t0 })
    await this.behaviour(action, this.performed.length)
  }
  /** Times of the performed actions whose text / group match. */
  times(filter: (a: OutboundAction) => boolean = () => true): number[] {
    return this.performed.filter((p) => filter(p.action)).map((p) => p.at)
  }
  texts(): string[] {
    return this.performed.map((p) => (p.action.kind === 'say' ? p.action.text : p.action.kind))
  }
}

/** An in-memory OutboundStore recording every call. */
class FakeStore implements OutboundStore {
  readonly log: string[] = []
  readonly saved: Array<{ id: number; action: OutboundAction; queuedAt: number }> = []
  readonly finished: Array<{ id: number; outcome: Parameters<OutboundStore['finish']>[1] }> = []
  /** Rows left pending by an earlier process (queuedAt defaults to the fake clock's start). */
  rows: Array<{ id: number; botId: string; action: OutboundAction; queuedAt?: number }> = []
  saveGate: Promise<void> = Promise.resolve()
  failSave = false
  failFinish = false
  private nextId = 100

  async save(action: OutboundAction, queuedAt: number): Promise<number | null> {
    this.log.push(`save:${describeText(action)}`)
    await this.saveGate
    if (this.failSave) throw new Error('disk full')
    // Like the unique index: a key stored before (by this or an earlier process) is not stored again.
    if (action.key !== undefined && (await this.storedKeys([action.key])).size > 0) return null
    const id = this.nextId++
    this.saved.push({ id, action, queuedAt })
    this.log.push(`saved:${describeText(action)}:${id}`)
    return id
  }

  async storedKeys(keys: readonly string[]): Promise<Set<string>> {
    return new Set([...this.rows, ...this.saved].flatMap((r) => (r.action.key !== undefined && keys.includes(r.action.key) ? [r.action.key] : [])))
  }

  async finish(id: number, outcome: Parameters<OutboundStore['finish']>[1]): Promise<void> {
    this.log.push(`finish:${id}:${outcome.status}`)
    if (this.failFinish) throw new Error('db gone')
    this.finished.push({ id, outcome })
  }

  /** Like the database: earlier rows and this process's saved rows that have no outcome yet. */
  async pending(botId: string): Promise<Array<{ id: number; action: OutboundAction; queuedAt: number }>> {
    const finished = new Set(this.finished.map((f) => f.id))
    const saved = this.saved.map((r) => ({ ...r, botId: r.action.botId }))
    return [...this.rows, ...saved]
      .filter((r) => r.botId === botId && !finished.has(r.id))
      .sort((a, b) => a.id - b.id)
      .map(({ id, action, queuedAt }) => ({ id, action, queuedAt: queuedAt ?? CLOCK_START }))
  }
}

function describeText(action: OutboundAction): string {
  return action.kind === 'say' ? action.text : action.kind
}

function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void
  let reject!: (e: unknown) => void
  const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej })
  return { promise, resolve, reject }
}

function setup(opts: { settings?: Partial<OutboundSettings>; store?: OutboundStore; random?: Random; rateLimiter?: RateLimiter; pseudonym?: (id: string) => string } = {}) {
  const clock = new FakeClock()
  const t0 = clock.now()
  const performer = new FakePerformer(clock, t0)
  const log = captureLogger()
  const queue = new OutboundQueue({
    performer,
    rateLimiter: opts.rateLimiter ?? new MemoryRateLimiter(clock),
    clock,
    random: opts.random ?? seededRandom(42),
    settings: settings(opts.settings),
    log,
    store: opts.store,
    pseudonym: opts.pseudonym,
  })
  const outcomes: Array<Parameters<OutboundListener>[0]> = []
  queue.onOutcome((e) => { outcomes.push(e) })
  /** Advances the fake clock in steps until `done()` holds (fails after `limitMs` of fake time). */
  const advanceUntil = async (done: () => boolean, limitMs = 300_000, stepMs = 250): Promise<void> => {
    const start = clock.now()
    await clock.advance(0)
    while (!done()) {
      if (clock.now() - start >= limitMs) throw new Error(`not done after ${limitMs} ms of fake time`)
      await clock.advance(stepMs)
    }
  }
  const elapsed = (): number => clock.now() - t0
  return { clock, t0, performer, log, queue, outcomes, advanceUntil, elapsed }
}

/** Expects `value` in [lo, hi]. */
function expectWithin(value: number | undefined, lo: number, hi: number, label = ''): void {
  if (value === undefined || value < lo || value > hi) {
    throw new Error(`${label} expected ${String(value)} to be within [${lo}, ${hi}]`)
  }
}

// Allowance for the token bucket's rounding (retryAfterMs is ceil()ed, float refill).
const SLACK = 5

// ---------------------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------------------

describe('isTransient', () => {
  it.each(['ETIMEDOUT', 'ECONNRESET', 'ECONNREFUSED', 'EAI_AGAIN', 'EPIPE', 'UNAVAILABLE', 'DEADLINE_EXCEEDED'])('retries network code %s', (code) => {
    expect(isTransient(Object.assign(new Error('net'), { code }))).toBe(true)
  })

  it('retries TransientError', () => {
    expect(isTransient(new TransientError('later'))).toBe(true)
  })

  it.each([
    ['plain Error', new Error('no')],
    ['other code', Object.assign(new Error('x'), { code: 'EACCES' })],
    ['numeric code', { code: 14 }],
    ['null', null],
    ['undefined', undefined],
    ['string', 'ETIMEDOUT'],
  ])('does not retry %s', (_label, error) => {
    expect(isTransient(error)).toBe(false)
  })
})

describe('describeAction', () => {
  it('never includes message text', () => {
    const d = describeAction({ kind: 'say', botId: 'b', groupId: 'g', text: 'secret words', mentions: ['m1', 'm2'] })
    expect(d).toEqual({ kind: 'say', bot: 'b', group: 'g', chars: 12, mentions: 2 })
    expect(JSON.stringify(d)).not.toContain('secret')
  })
})

describe('OutboundQueue', () => {
  describe('per-group throttle', () => {
    it('spaces sends to one group by the group bucket, with jitter, while another group is not delayed', async () => {
      const { queue, performer, advanceUntil } = setup({
        settings: { perGroup: { capacity: 2, refillPerSec: 6 / 60 }, jitterMs: [100, 500] },
      })
      for (let i = 1; i <= 5; i++) queue.enqueue(say('g1', `a${i}`))
      queue.enqueue(say('g2', 'b1'))
      queue.enqueue(say('g2', 'b2'))
      await advanceUntil(() => performer.performed.length === 7)

      const g1 = performer.times((a) => 'groupId' in a && a.groupId === 'g1')
      const g2 = performer.times((a) => 'groupId' in a && a.groupId === 'g2')
      expect(g1).toHaveLength(5)
      // Burst of 2: both right away (each after its own jitter).
      expectWithin(g1[0], 100, 500, 'g1#1')
      expectWithin(g1[1], (g1[0] ?? 0) + 100, (g1[0] ?? 0) + 500, 'g1#2')
      // Then one token per 10 s.
      expectWithin(g1[2], 10_000 + 100, 10_000 + 500 + SLACK, 'g1#3')
      expectWithin(g1[3], 20_000 + 100, 20_000 + 500 + SLACK, 'g1#4')
      expectWithin(g1[4], 30_000 + 100, 30_000 + 500 + SLACK, 'g1#5')
      // The other group only pays its own jitter.
      expectWithin(g2[0], 100, 500, 'g2#1')
      expectWithin(g2[1], (g2[0] ?? 0) + 100, (g2[0] ?? 0) + 500, 'g2#2')
      // Order inside a group is kept.
      expect(performer.texts().filter((t) => t.startsWith('a'))).toEqual(['a1', 'a2', 'a3', 'a4', 'a5'])
      expect(queue.size).toBe(0)
    })

    it('a group enqueued while another is throttled is served right away', async () => {
      const { queue, performer, clock, advanceUntil, elapsed } = setup({
        settings: { perGroup: { capacity: 1, refillPerSec: 1 / 60 } },
      })
      queue.enqueue(say('g1', 'a1'))
      queue.enqueue(say('g1', 'a2')) // waits ~60 s for the g1 bucket
      await advanceUntil(() => performer.performed.length === 1)
      await clock.advance(15_000)
      const enqueuedAt = elapsed()
      queue.enqueue(say('g2', 'b1'))
      await advanceUntil(() => performer.performed.length === 2)
      expect(performer.texts()).toEqual(['a1', 'b1'])
      expect(performer.times()[1]).toBe(enqueuedAt)
      await advanceUntil(() => performer.performed.length === 3)
      expectWithin(performer.times()[2], 60_000, 60_000 + SLACK, 'a2')
    })
  })

  describe('per-account throttle', () => {
    it('shares the account bucket across groups of one bot, not across bots', async () => {
      const { queue, performer, advanceUntil } = setup({
        settings: { perAccount: { capacity: 2, refillPerSec: 6 / 60 } },
      })
      queue.enqueue(say('g1', 'x1'))
      queue.enqueue(say('g2', 'x2'))
      queue.enqueue(say('g3', 'x3'))
      queue.enqueue(say('g4', 'x4'))
      queue.enqueue(say('g5', 'other-bot', 'bot2'))
      await advanceUntil(() => performer.performed.length === 5)
      const at = Object.fromEntries(performer.performed.map((p) => [describeText(p.action), p.at]))
      expect(at['x1']).toBe(0)
      expect(at['x2']).toBe(0)
      expect(at['other-bot']).toBe(0)
      expectWithin(at['x3'], 10_000, 10_000 + SLACK, 'x3')
      expectWithin(at['x4'], 20_000, 20_000 + SLACK, 'x4')
    })

    it('applies the account bucket to account-wide actions (no groupId) and not the group bucket', async () => {
      const { queue, performer, advanceUntil } = setup({
        settings: { perAccount: { capacity: 1, refillPerSec: 1 / 10 }, perGroup: { capacity: 1, refillPerSec: 1 / 3600 } },
      })
      queue.enqueue({ kind: 'tag', botId: 'bot1', memberId: 'm1', tag: 'vip' })
      queue.enqueue({ kind: 'acceptInvitation', botId: 'bot1', invitationId: 'inv1' })
      queue.enqueue({ kind: 'tag', botId: 'bot1', memberId: 'm2', tag: 'vip' })
      await advanceUntil(() => performer.performed.length === 3)
      const times = performer.times()
      expect(times[0]).toBe(0)
      expectWithin(times[1], 10_000, 10_000 + SLACK, 'invitation')
      expectWithin(times[2], 20_000, 20_000 + SLACK, 'tag 2')
      // One lane per bot: order kept.
      expect(performer.texts()).toEqual(['tag', 'acceptInvitation', 'tag'])
    })

    it('takes account tokens with the bot id and group tokens with the group id', async () => {
      const clock = new FakeClock()
      const inner = new MemoryRateLimiter(clock)
      const keys: string[] = []
      const spy: RateLimiter = { take: (key, spec, cost) => { keys.push(key); return inner.take(key, spec, cost) } }
      const { queue, performer, advanceUntil } = setup({ rateLimiter: spy })
      queue.enqueue(say('room-1', 'hi', 'botA'))
      await advanceUntil(() => performer.performed.length === 1)
      expect(keys).toEqual(['out:acct:botA', 'out:grp:room-1'])
    })
  })

  describe('jitter', () => {
    it('pauses a random time within [min, max] before every action', async () => {
      const { queue, performer, advanceUntil } = setup({ settings: { jitterMs: [300, 900] } })
      for (let i = 0; i < 30; i++) queue.enqueue(say(`g${i}`, `m${i}`))
      await advanceUntil(() => performer.performed.length === 30, 10_000, 50)
      const times = performer.times()
      for (const t of times) expectWithin(t, 300, 900, 'jitter')
      // Actually random, not a constant pause.
      expect(new Set(times).size).toBeGreaterThan(5)
    })

    it('uses Random.int(min, max) and waits exactly what it returns, inclusive of the bounds', async () => {
      let calls = 0
      const int = jest.fn((min: number, max: number): number => (++calls % 2 === 1 ? min : max))
      const random: Random = { next: () => 0.5, int, pick: (items) => items[0] as never }
      const { queue, performer, advanceUntil } = setup({ settings: { jitterMs: [200, 700] }, random })
      queue.enqueue(say('g1', 'a'))
      queue.enqueue(say('g1', 'b'))
      await advanceUntil(() => performer.performed.length === 2, 10_000, 10)
      expect(int).toHaveBeenCalledWith(200, 700)
      expect(performer.times()).toEqual([200, 900])
    })

    it('does not wait at all with jitter [0, 0]', async () => {
      const { queue, performer, clock } = setup({ settings: { jitterMs: [0, 0] } })
      queue.enqueue(say('g1', 'a'))
      await clock.advance(0)
      expect(performer.times()).toEqual([0])
      expect(clock.pending()).toBe(0)
    })
  })

  describe('retries', () => {
    it('retries a TransientError with exponential backoff and reports success with the attempt count', async () => {
      const { queue, performer, outcomes, advanceUntil } = setup({ settings: { maxAttempts: 4, retryBaseMs: 1000 } })
      performer.behaviour = (_a, call) => { if (call <= 2) throw new TransientError('rate limited') }
      const action = say('g1', 'hello')
      queue.enqueue(action)
      await advanceUntil(() => outcomes.length === 1)
      expect(performer.times()).toEqual([0, 1000, 3000])
      expect(outcomes).toEqual([{ action, status: 'sent', attempts: 3, error: undefined }])
    })

    it('gives up after maxAttempts with delays base * 2^n, reporting failure', async () => {
      const store = new FakeStore()
      const { queue, performer, outcomes, advanceUntil, clock, t0 } = setup({ settings: { maxAttempts: 5, retryBaseMs: 500 }, store })
      performer.behaviour = () => { throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }) }
      queue.enqueue(say('g1', 'hello'))
      await advanceUntil(() => outcomes.length === 1)
      // Attempts at 0, +500, +1000, +2000, +4000.
      expect(performer.times()).toEqual([0, 500, 1500, 3500, 7500])
      expect(outcomes[0]).toMatchObject({ status: 'failed', attempts: 5, error: 'Error: socket hang up' })
      expect(store.finished).toEqual([{ id: 100, outcome: { status: 'failed', attempts: 5, error: 'Error: socket hang up', at: t0 + 7500 } }])
      // No sleep after the last attempt.
      expect(clock.pending()).toBe(0)
    })

    it('does not retry a permanent error: one attempt, failed outcome to listeners and store', async () => {
      const store = new FakeStore()
      const { queue, performer, outcomes, advanceUntil, clock, log } = setup({ store })
      performer.behaviour = () => { throw new Error('not an admin') }
      const action: OutboundAction = { kind: 'remove', botId: 'bot1', groupId: 'g1', memberId: 'm1', reason: 'spam' }
      queue.enqueue(action)
      await advanceUntil(() => outcomes.length === 1)
      await clock.advance(60_000)
      expect(performer.performed).toHaveLength(1)
      expect(outcomes).toEqual([{ action, status: 'failed', attempts: 1, error: 'Error: not an admin' }])
      expect(store.finished).toEqual([{ id: 100, outcome: { status: 'failed', attempts: 1, error: 'Error: not an admin', at: clock.now() - 60_000 } }])
      expect(log.lines.some((l) => l.level === 'warn' && l.message === 'outbound: failed')).toBe(true)
      expect(queue.size).toBe(0)
    })

    it('an action already done on the platform (AlreadyDoneError) is sent with its outcome note: no retry, info only', async () => {
      const store = new FakeStore()
      const { queue, performer, outcomes, advanceUntil, clock, log } = setup({ store, settings: { maxAttempts: 5 } })
      performer.behaviour = () => { throw new AlreadyDoneError('already_gone', 'the member is no longer in the group') }
      const action: OutboundAction = { kind: 'remove', botId: 'bot1', groupId: 'g1', memberId: 'm1', reason: 'spam', note: 'removed' }
      queue.enqueue(action)
      await advanceUntil(() => outcomes.length === 1)
      await clock.advance(60_000)
      expect(performer.performed).toHaveLength(1)
      expect(outcomes).toEqual([{ action, status: 'sent', attempts: 1, error: undefined, outcome: 'already_gone' }])
      expect(store.finished).toEqual([{ id: 100, outcome: { status: 'sent', attempts: 1, error: 'already_gone', at: clock.now() - 60_000 } }])
      expect(log.lines.filter((l) => l.level !== 'debug').map((l) => [l.level, l.message])).toEqual([['info', 'bot action: removed — already done (already_gone)']])
    })

    it('writes the action’s member ids in error texts as pseudonyms: in logs, the stored error and the outcome', async () => {
      const store = new FakeStore()
      const { queue, performer, outcomes, advanceUntil, log } = setup({ store, settings: { maxAttempts: 2, retryBaseMs: 10 }, pseudonym: (id) => `ps${id}0123456789abcdef` })
      performer.behaviour = (_a, call) => {
        if (call === 1) throw new TransientError('timeout removing m1 from g1')
        throw new Error('member m1 is not in room g1 (m10 is)')
      }
      queue.enqueue({ kind: 'remove', botId: 'bot1', groupId: 'g1', memberId: 'm1', reason: 'spam' })
      await advanceUntil(() => outcomes.length === 1)
      // Only the id standing on its own is replaced (m10 is another member).
      expect(outcomes[0]?.error).toBe('Error: member ~psm10123456789ab is not in room g1 (m10 is)')
      expect(store.finished[0]?.outcome.error).toBe('Error: member ~psm10123456789ab is not in room g1 (m10 is)')
      const errors = log.lines.filter((l) => typeof l.meta?.error === 'string').map((l) => String(l.meta?.error).split('\n')[0])
      expect(errors).toEqual(['TransientError: timeout removing ~psm10123456789ab from g1', 'Error: member ~psm10123456789ab is not in room g1 (m10 is)'])
    })

    it('maxAttempts 1 never retries even a transient error', async () => {
      const { queue, performer, outcomes, advanceUntil } = setup({ settings: { maxAttempts: 1 } })
      performer.behaviour = () => { throw new TransientError('busy') }
      queue.enqueue(say('g1', 'x'))
      await advanceUntil(() => outcomes.length === 1)
      expect(performer.performed).toHaveLength(1)
      expect(outcomes[0]).toMatchObject({ status: 'failed', attempts: 1, error: 'TransientError: busy' })
    })

    it('keeps group order while an earlier action is being retried', async () => {
      const { queue, performer, outcomes, advanceUntil } = setup({ settings: { retryBaseMs: 1000 } })
      performer.behaviour = (a, call) => { if (describeText(a) === 'first' && call === 1) throw new TransientError('blip') }
      queue.enqueue(say('g1', 'first'))
      queue.enqueue(say('g1', 'second'))
      await advanceUntil(() => outcomes.length === 2)
      expect(performer.texts()).toEqual(['first', 'first', 'second'])
      expect(performer.times()).toEqual([0, 1000, 1000])
    })

    it('takes tokens again for every retry', async () => {
      const { queue, performer, outcomes, advanceUntil } = setup({
        settings: { perGroup: { capacity: 1, refillPerSec: 1 / 10 }, retryBaseMs: 1000 },
      })
      performer.behaviour = (_a, call) => { if (call === 1) throw new TransientError('blip') }
      queue.enqueue(say('g1', 'x'))
      await advanceUntil(() => outcomes.length === 1)
      // Backoff ends at 1 s, but the group bucket only has a token again at 10 s.
      expect(performer.times()[0]).toBe(0)
      expectWithin(performer.times()[1], 10_000, 10_000 + SLACK, 'retry')
    })
  })

  describe('store', () => {
    it('saves an action (with its queue time) before performing it and records the outcome with its id', async () => {
      const store = new FakeStore()
      const gate = deferred()
      store.saveGate = gate.promise
      const { queue, performer, outcomes, advanceUntil, clock } = setup({ store })
      await clock.advance(1234)
      const queuedAt = clock.now()
      queue.enqueue(say('g1', 'persist me'))
      await clock.advance(60_000)
      expect(store.log).toEqual(['save:persist me'])
      expect(performer.performed).toHaveLength(0)
      gate.resolve()
      await advanceUntil(() => outcomes.length === 1)
      expect(store.saved).toEqual([{ id: 100, action: say('g1', 'persist me'), queuedAt }])
      expect(store.log).toEqual(['save:persist me', 'saved:persist me:100', 'finish:100:sent'])
      expect(store.finished).toEqual([{ id: 100, outcome: { status: 'sent', attempts: 1, error: undefined, at: clock.now() } }])
    })

    it('stores actions one after the other, so their ids follow the queue order even when a save is slow', async () => {
      const store = new FakeStore()
      const slow = deferred()
      const save = store.save.bind(store)
      store.save = async (action, queuedAt) => {
        if (describeText(action) === 'first') await slow.promise
        return save(action, queuedAt)
      }
      const { queue, outcomes, advanceUntil, clock } = setup({ store })
      queue.enqueue(say('g1', 'first'))
      queue.enqueue(say('g2', 'second'))
      await clock.advance(0)
      slow.resolve()
      await advanceUntil(() => outcomes.length === 2)
      expect(store.saved.map((r) => [describeText(r.action), r.id])).toEqual([['first', 100], ['second', 101]])
    })

    it('still performs an action whose save failed (logged), without recording its outcome', async () => {
      const store = new FakeStore()
      store.failSave = true
      const { queue, performer, outcomes, advanceUntil, log } = setup({ store })
      queue.enqueue(say('g1', 'x'))
      await advanceUntil(() => outcomes.length === 1)
      expect(performer.performed).toHaveLength(1)
      expect(outcomes[0]).toMatchObject({ status: 'sent', attempts: 1 })
      expect(store.finished).toEqual([])
      expect(log.lines.find((l) => l.message === 'outbound: could not persist action')?.meta).toMatchObject({ error: expect.stringContaining('Error: disk full') })
    })

    it('a failing store.finish is logged and listeners are still told', async () => {
      const store = new FakeStore()
      store.failFinish = true
      const { queue, outcomes, advanceUntil, log } = setup({ store })
      queue.enqueue(say('g1', 'x'))
      await advanceUntil(() => outcomes.length === 1)
      expect(outcomes[0]).toMatchObject({ status: 'sent' })
      expect(log.lines.some((l) => l.level === 'warn' && l.message === 'outbound: could not record outcome')).toBe(true)
      expect(queue.size).toBe(0)
    })

    it('resume() re-queues the pending actions of one bot, in order, without saving them again', async () => {
      const store = new FakeStore()
      store.rows = [
        { id: 7, botId: 'bot1', action: say('g1', 'old-1') },
        { id: 8, botId: 'bot2', action: say('g9', 'other bot') },
        { id: 9, botId: 'bot1', action: say('g1', 'old-2') },
        { id: 10, botId: 'bot1', action: { kind: 'tag', botId: 'bot1', memberId: 'm', tag: 't' } },
      ]
      const { queue, performer, outcomes, advanceUntil } = setup({ store })
      await expect(queue.resume('bot1')).resolves.toBe(3)
      await advanceUntil(() => outcomes.length === 3)
      // Same lane (group g1): in order. The tag has its own (bot) lane, so it may run in between.
      expect(performer.texts().filter((t) => t.startsWith('old'))).toEqual(['old-1', 'old-2'])
      expect(performer.texts()).toContain('tag')
      expect(store.saved).toEqual([])
      expect(store.finished.map((f) => [f.id, f.outcome.status]).sort()).toEqual([[10, 'sent'], [7, 'sent'], [9, 'sent']])
      expect(queue.size).toBe(0)
    })

    it('resume() returns 0 with nothing pending or without a store', async () => {
      const withStore = setup({ store: new FakeStore() })
      await expect(withStore.queue.resume('bot1')).resolves.toBe(0)
      const withoutStore = setup()
      await expect(withoutStore.queue.resume('bot1')).resolves.toBe(0)
      expect(withoutStore.queue.size).toBe(0)
    })

    it('an action whose key is already stored is dropped without being performed or reported; existingKeys() sees both', async () => {
      const store = new FakeStore()
      // An earlier process stored the share's text under its key.
      store.rows = [{ id: 1, botId: 'bot1', action: { ...say('g1', 'stored before'), key: 'share:1:text' } }]
      const { queue, performer, outcomes, advanceUntil } = setup({ store })
      await expect(queue.existingKeys(['share:1:text'])).resolves.toEqual(new Set(['share:1:text']))
      await expect(queue.existingKeys(['share:2:text'])).resolves.toEqual(new Set())
      await expect(queue.existingKeys(['share:2:text', 'share:1:text'])).resolves.toEqual(new Set(['share:1:text']))
      queue.enqueue({ ...say('g1', 're-post'), key: 'share:1:text' })
      queue.enqueue({ ...say('g1', 'new'), key: 'share:2:text' })
      await expect(queue.existingKeys(['share:2:text'])).resolves.toEqual(new Set(['share:2:text']))
      await advanceUntil(() => outcomes.length === 1)
      await queue.drain(1000)
      expect(performer.texts()).toEqual(['new'])
      expect(outcomes.map((o) => o.action.key)).toEqual(['share:2:text'])
      expect(queue.size).toBe(0)
    })
  })

  describe('listeners', () => {
    it('onOutcome returns a disposer; a throwing listener is logged and does not stop the others', async () => {
      const { queue, outcomes, advanceUntil, log } = setup()
      const seen: string[] = []
      const dispose = queue.onOutcome((e) => { seen.push(describeText(e.action)) })
      queue.onOutcome(() => { throw new Error('listener bug') })
      queue.enqueue(say('g1', 'one'))
      await advanceUntil(() => outcomes.length === 1)
      dispose()
      queue.enqueue(say('g1', 'two'))
      await advanceUntil(() => outcomes.length === 2)
      expect(seen).toEqual(['one'])
      expect(outcomes.map((o) => describeText(o.action))).toEqual(['one', 'two'])
      expect(log.lines.filter((l) => l.level === 'error' && l.message === 'outbound: listener failed')).toHaveLength(2)
    })
  })

  describe('while a bot is offline', () => {
    const MINUTE = 60_000
    const remove = (groupId: string, memberId: string): OutboundAction => ({ kind: 'remove', botId: 'bot1', groupId, memberId, reason: 'ads', cause: `msg-${memberId}` })
    const counting = (clock: FakeClock): { limiter: RateLimiter; keys: string[] } => {
      const inner = new MemoryRateLimiter(clock)
      const keys: string[] = []
      return { keys, limiter: { take: (key, spec, cost) => { keys.push(key); return inner.take(key, spec, cost) } } }
    }

    it('its actions wait without attempts or tokens, and are performed in order when it logs in', async () => {
      const store = new FakeStore()
      const clock = new FakeClock()
      const { limiter, keys } = counting(clock)
      const { queue, performer, outcomes, log, advanceUntil, clock: queueClock } = setup({ store, rateLimiter: limiter, settings: { maxAttempts: 1 } })
      queue.offline('bot1')
      queue.enqueue(say('g1', 'a1'))
      queue.enqueue(remove('g1', 'spammer'))
      queue.enqueue(say('g1', 'a2'))
      queue.enqueue({ kind: 'tag', botId: 'bot1', memberId: 'm1', tag: 'vip' })
      queue.enqueue(say('g2', 'b1'))
      queue.enqueue(say('g3', 'other bot', 'bot2'))
      await advanceUntil(() => outcomes.length === 1)
      await queueClock.advance(5 * MINUTE)
      // Only the online bot's action went out; bot1 spent no attempt and no token.
      expect(performer.texts()).toEqual(['other bot'])
      expect(keys.filter((k) => k.includes('bot1') || k === 'out:grp:g1' || k === 'out:grp:g2')).toEqual([])
      expect(store.finished.map((f) => f.id)).toEqual([105])
      expect(queue.size).toBe(5)
      expect(queue.active).toBe(0)
      expect(queue.isOnline('bot1')).toBe(false)
      // Said once per outage (not per action or lane), with how many wait.
      const waits = log.lines.filter((l) => l.message === 'outbound: bot offline, actions wait for its login')
      expect(waits).toEqual([{ level: 'warn', message: 'outbound: bot offline, actions wait for its login', meta: { bot: 'bot1', waiting: 5 } }])

      queue.online('bot1')
      await advanceUntil(() => outcomes.length === 6)
      // Lanes run concurrently; inside one (group g1) the order is kept.
      expect(performer.texts().filter((t) => ['a1', 'remove', 'a2'].includes(t))).toEqual(['a1', 'remove', 'a2'])
      expect(new Set(performer.texts().slice(1))).toEqual(new Set(['a1', 'remove', 'a2', 'tag', 'b1']))
      expect(outcomes.map((o) => [o.status, o.attempts])).toEqual(Array(6).fill(['sent', 1]))
      expect(log.lines.find((l) => l.message === 'outbound: bot online, performing waiting actions in order')?.meta).toEqual({ bot: 'bot1', waiting: 5, offlineMs: expect.any(Number) })
      expect(queue.size).toBe(0)
    })

    it('an OfflineError from the performer is not an attempt: the action waits for the login, then goes out', async () => {
      const { queue, performer, outcomes, log, advanceUntil, clock } = setup({ settings: { maxAttempts: 1 } })
      performer.behaviour = (_a, call) => { if (call === 1) throw new OfflineError('bot1') }
      queue.enqueue(say('g1', 'first'))
      queue.enqueue(say('g1', 'second'))
      await clock.advance(0)
      await clock.advance(10 * MINUTE)
      // One call that met the logout; nothing failed and nothing else was tried meanwhile.
      expect(performer.texts()).toEqual(['first'])
      expect(outcomes).toEqual([])
      expect(queue.isOnline('bot1')).toBe(false)
      expect(log.lines.filter((l) => l.message === 'outbound: bot offline, actions wait for its login').map((l) => l.meta)).toEqual([{ bot: 'bot1', waiting: 2 }])
      queue.online('bot1')
      await advanceUntil(() => outcomes.length === 2)
      expect(performer.texts()).toEqual(['first', 'first', 'second'])
      expect(outcomes.map((o) => [describeText(o.action), o.status, o.attempts])).toEqual([['first', 'sent', 1], ['second', 'sent', 1]])
    })

    it('a logout during a lane: the action in progress completes, the rest wait for the login', async () => {
      const { queue, performer, outcomes, advanceUntil, clock } = setup()
      const first = deferred()
      performer.behaviour = (_a, call) => (call === 1 ? first.promise : undefined)
      queue.enqueue(say('g1', 'a'))
      queue.enqueue(say('g1', 'b'))
      await clock.advance(0)
      queue.offline('bot1')
      first.resolve()
      await clock.advance(MINUTE)
      expect(performer.texts()).toEqual(['a'])
      expect(outcomes.map((o) => o.status)).toEqual(['sent'])
      queue.online('bot1')
      await advanceUntil(() => outcomes.length === 2)
      expect(performer.texts()).toEqual(['a', 'b'])
    })

    it('a reply older than its expiry is recorded expired, not sent; a removal queued in a long outage is still performed', async () => {
      const store = new FakeStore()
      const { queue, performer, outcomes, log, advanceUntil, clock } = setup({
        store, settings: { expiryMs: expiryFromMinutes({ groupMessage: 10, directMessage: 30, invitationAnswer: 1440 }) },
      })
      queue.offline('bot1')
      queue.enqueue(say('g1', 'secret reply text'))
      queue.enqueue(remove('g1', 'spammer'))
      queue.enqueue({ kind: 'sayCard', botId: 'bot1', groupId: 'g1', card: { url: 'https://example.com', title: 'card' } })
      queue.enqueue({ kind: 'sayDirect', botId: 'bot1', contactId: 'owner', text: 'to the owner' })
      queue.enqueue({ kind: 'acceptInvitation', botId: 'bot1', invitationId: 'inv1' })
      await clock.advance(3 * 24 * 60 * MINUTE)
      const expiredAt = clock.now()
      queue.online('bot1')
      await advanceUntil(() => outcomes.length === 5)
      expect(performer.texts()).toEqual(['remove'])
      expect(outcomes.map((o) => [o.action.kind, o.status, o.attempts])).toEqual(expect.arrayContaining([
        ['say', 'expired', 0], ['remove', 'sent', 1], ['sayCard', 'expired', 0], ['sayDirect', 'expired', 0], ['acceptInvitation', 'expired', 0],
      ]))
      expect(store.finished.filter((f) => f.outcome.status === 'expired').map((f) => f.outcome)).toEqual(Array(4).fill({ status: 'expired', attempts: 0, error: undefined, at: expiredAt }))
      // Logged with counts and kinds, never the text.
      const expiredLines = log.lines.filter((l) => l.message.startsWith('outbound: expired actions dropped'))
      expect(expiredLines.map((l) => l.meta)).toEqual(expect.arrayContaining([
        { lane: 'g:g1', count: 1, kinds: { say: 1 } }, { lane: 'g:g1', count: 1, kinds: { sayCard: 1 } }, { lane: 'b:bot1', count: 2, kinds: { sayDirect: 1, acceptInvitation: 1 } },
      ]))
      expect(JSON.stringify(log.lines.filter((l) => l.level !== 'debug'))).not.toContain('secret')
    })

    it('each kind has its own expiry: after 15 minutes a reply is dropped but a direct message still goes out', async () => {
      const { queue, performer, outcomes, advanceUntil, clock } = setup({
        settings: { expiryMs: expiryFromMinutes({ groupMessage: 10, directMessage: 30, invitationAnswer: null }) },
      })
      queue.offline('bot1')
      queue.enqueue(say('g1', 'reply'))
      queue.enqueue({ kind: 'sayDirect', botId: 'bot1', contactId: 'owner', text: 'dm' })
      queue.enqueue({ kind: 'acceptInvitation', botId: 'bot1', invitationId: 'inv1' })
      await clock.advance(15 * MINUTE)
      queue.online('bot1')
      await advanceUntil(() => outcomes.length === 3)
      expect(performer.texts().sort()).toEqual(['acceptInvitation', 'sayDirect'])
      expect(outcomes.find((o) => o.action.kind === 'say')?.status).toBe('expired')
    })

    it('a reply within its expiry after a short outage is sent', async () => {
      const { queue, performer, outcomes, advanceUntil, clock } = setup({ settings: { expiryMs: { say: 10 * MINUTE } } })
      queue.offline('bot1')
      queue.enqueue(say('g1', 'reply'))
      await clock.advance(9 * MINUTE)
      queue.online('bot1')
      await advanceUntil(() => outcomes.length === 1)
      expect(outcomes[0]).toMatchObject({ status: 'sent', attempts: 1 })
      expect(performer.texts()).toEqual(['reply'])
    })

    it('drain() resolves false at once when the rest waits for a login; stop() keeps it stored and pending', async () => {
      const store = new FakeStore()
      const gate = deferred()
      store.saveGate = gate.promise
      const { queue, performer, clock } = setup({ store })
      queue.offline('bot1')
      queue.enqueue(say('g1', 'a'))
      queue.enqueue(say('g1', 'b'))
      await clock.advance(0)
      await expect(queue.drain(600_000)).resolves.toBe(false)
      // Paused, but still being stored: work in progress for whoever waits for quiet (the rehearsal).
      expect(queue.active).toBe(2)
      let stopped = false
      const stopping = queue.stop().then(() => { stopped = true })
      await clock.advance(0)
      // stop() waits until what was queued is stored (so the next start resumes it).
      expect(stopped).toBe(false)
      gate.resolve()
      await stopping
      expect(queue.active).toBe(0)
      expect(store.saved.map((r) => describeText(r.action))).toEqual(['a', 'b'])
      expect(store.finished).toEqual([])
      queue.online('bot1')
      await clock.advance(60_000)
      expect(performer.performed).toEqual([])
      await expect(store.pending('bot1')).resolves.toHaveLength(2)
    })

    it('resume() at the login after a restart: stored actions first, in order, none twice, stale ones expired', async () => {
      const store = new FakeStore()
      const { queue, performer, outcomes, advanceUntil, clock } = setup({ store, settings: { expiryMs: { say: 10 * MINUTE } } })
      await clock.advance(60 * MINUTE)
      store.rows = [
        { id: 7, botId: 'bot1', action: say('g1', 'stale reply'), queuedAt: CLOCK_START },
        { id: 8, botId: 'bot1', action: remove('g1', 'spammer'), queuedAt: CLOCK_START },
        { id: 9, botId: 'bot1', action: say('g1', 'fresh reply'), queuedAt: clock.now() - MINUTE },
      ]
      queue.offline('bot1')
      queue.enqueue(say('g1', 'queued before login'))
      await clock.advance(0)
      // As the runtime does at the first login: resume, then online.
      const resumed = queue.resume('bot1')
      queue.online('bot1')
      await expect(resumed).resolves.toBe(3)
      await advanceUntil(() => outcomes.length === 4)
      expect(performer.texts()).toEqual(['remove', 'fresh reply', 'queued before login'])
      expect(outcomes.map((o) => [describeText(o.action), o.status])).toEqual([
        ['stale reply', 'expired'], ['remove', 'sent'], ['fresh reply', 'sent'], ['queued before login', 'sent'],
      ])
      expect(store.finished.map((f) => f.id)).toEqual([7, 8, 9, 100])
    })
  })

  describe('size, drain and stop', () => {
    it('size counts waiting and in-progress actions', async () => {
      const { queue, performer, advanceUntil } = setup({ settings: { perGroup: { capacity: 1, refillPerSec: 1 / 10 } } })
      expect(queue.size).toBe(0)
      queue.enqueue(say('g1', 'a'))
      queue.enqueue(say('g1', 'b'))
      queue.enqueue(say('g2', 'c'))
      expect(queue.size).toBe(3)
      await advanceUntil(() => performer.performed.length === 2)
      expect(queue.size).toBe(1)
      await advanceUntil(() => performer.performed.length === 3)
      expect(queue.size).toBe(0)
    })

    it('drain() resolves true at once when empty', async () => {
      const { queue } = setup()
      await expect(queue.drain(1)).resolves.toBe(true)
    })

    it('drain() resolves true once everything queued has been performed', async () => {
      const { queue, performer, advanceUntil } = setup({ settings: { perGroup: { capacity: 1, refillPerSec: 1 / 10 } } })
      queue.enqueue(say('g1', 'a'))
      queue.enqueue(say('g1', 'b'))
      queue.enqueue(say('g2', 'c'))
      let drained: boolean | undefined
      const drain = queue.drain(5_000).then((v) => { drained = v })
      await advanceUntil(() => performer.performed.length === 2)
      expect(drained).toBeUndefined()
      await advanceUntil(() => drained !== undefined)
      await drain
      expect(drained).toBe(true)
      expect(performer.performed).toHaveLength(3)
    })

    it('drain() resolves false when the timeout passes first', async () => {
      const { queue, performer } = setup()
      const never = deferred()
      performer.behaviour = () => never.promise
      queue.enqueue(say('g1', 'stuck'))
      const started = Date.now()
      await expect(queue.drain(20)).resolves.toBe(false)
      expect(Date.now() - started).toBeGreaterThanOrEqual(15)
      expect(queue.size).toBe(1)
      never.resolve()
    })

    it('stop() leaves the remaining actions unperformed (still counted, drain false)', async () => {
      const store = new FakeStore()
      const { queue, performer, outcomes, clock } = setup({ store })
      const first = deferred()
      performer.behaviour = (_a, call) => (call === 1 ? first.promise : undefined)
      queue.enqueue(say('g1', 'a'))
      queue.enqueue(say('g1', 'b'))
      queue.enqueue(say('g1', 'c'))
      await clock.advance(0)
      expect(performer.texts()).toEqual(['a'])
      await queue.stop()
      first.resolve()
      await clock.advance(600_000)
      // The action in progress completes; nothing after it starts.
      expect(performer.texts()).toEqual(['a'])
      expect(outcomes.map((o) => o.status)).toEqual(['sent'])
      expect(store.finished.map((f) => f.id)).toEqual([100])
      expect(queue.size).toBe(2)
      await expect(queue.drain(10)).resolves.toBe(false)
    })

    it('stop() also keeps actions enqueued afterwards from being performed', async () => {
      const store = new FakeStore()
      const { queue, performer, clock } = setup({ store })
      await queue.stop()
      queue.enqueue(say('g1', 'late'))
      await clock.advance(60_000)
      expect(performer.performed).toHaveLength(0)
      // Persisted, so the next start resumes it.
      expect(store.saved.map((s) => describeText(s.action))).toEqual(['late'])
      expect(store.finished).toEqual([])
      expect(queue.size).toBe(1)
    })

    it('stop() while an action waits for throttle tokens: it is not performed afterwards and stays pending', async () => {
      const store = new FakeStore()
      const { queue, performer, clock, advanceUntil, outcomes } = setup({
        store,
        settings: { perGroup: { capacity: 1, refillPerSec: 1 / 10 } },
      })
      queue.enqueue(say('g1', 'a'))
      queue.enqueue(say('g1', 'b')) // waits 10 s for a group token
      await advanceUntil(() => outcomes.length === 1)
      expect(clock.pending()).toBe(1)
      await queue.stop()
      await clock.advance(60_000)
      expect(performer.texts()).toEqual(['a'])
      expect(store.finished.map((f) => f.id)).toEqual([100])
      expect(queue.size).toBe(1)
    })

    it('stop() during a retry backoff: no further attempt, no outcome recorded', async () => {
      const store = new FakeStore()
      const { queue, performer, clock, outcomes } = setup({ store, settings: { retryBaseMs: 5_000 } })
      performer.behaviour = () => { throw new TransientError('blip') }
      queue.enqueue(say('g1', 'a'))
      await clock.advance(0)
      expect(performer.times()).toEqual([0])
      await queue.stop()
      await clock.advance(60_000)
      expect(performer.performed).toHaveLength(1)
      expect(outcomes).toEqual([])
      expect(store.finished).toEqual([])
      expect(queue.size).toBe(1)
    })

    it('stop() during the jitter pause: the action is not performed', async () => {
      const { queue, performer, clock } = setup({ settings: { jitterMs: [1_000, 2_000] } })
      queue.enqueue(say('g1', 'a'))
      await clock.advance(0)
      expect(clock.pending()).toBe(1)
      await queue.stop()
      await clock.advance(10_000)
      expect(performer.performed).toHaveLength(0)
      expect(queue.size).toBe(1)
    })

    it('a failing rate limiter halts the lane (logged) and keeps its action queued; other lanes go on', async () => {
      const clock = new FakeClock()
      const inner = new MemoryRateLimiter(clock)
      const failing: RateLimiter = {
        take: async (key, spec, cost) => {
          if (key === 'out:grp:bad') throw new Error('redis down')
          return inner.take(key, spec, cost)
        },
      }
      const { queue, performer, advanceUntil, log } = setup({ rateLimiter: failing })
      queue.enqueue(say('bad', 'x'))
      queue.enqueue(say('good', 'y'))
      await advanceUntil(() => performer.performed.length === 1)
      await advanceUntil(() => log.lines.some((l) => l.message === 'outbound: lane halted'))
      expect(performer.texts()).toEqual(['y'])
      expect(log.lines.find((l) => l.message === 'outbound: lane halted')?.meta).toMatchObject({ lane: 'g:bad', pending: 1, error: expect.stringContaining('Error: redis down') })
      expect(queue.size).toBe(1)
    })
  })
})
