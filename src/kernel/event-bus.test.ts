import { systemClock } from '../ports/clock'
import { EventBus } from './event-bus'
import type { EventBase } from './events'
import { silentLogger } from './logger'

const event = (id: string): EventBase => ({ type: 'test.happened', id, at: 0 })
const SETTINGS = { maxBatch: 2, retryBaseMs: 5, maxRetryMs: 20 }

describe('EventBus.caughtUp', () => {
  it('resolves once every event queued before the call was delivered, without waiting for later ones', async () => {
    const handled: string[] = []
    let release: () => void = () => undefined
    const gate = new Promise<void>((resolve) => { release = resolve })
    // The first two batches pass once released; later ones never do.
    let batches = 0
    const never = new Promise<void>(() => undefined)
    const bus = new EventBus([{ name: 'slow', types: new Set(['test.happened']), handle: async (events) => { await (batches++ < 2 ? gate : never); handled.push(...events.map((e) => e.id)) } }], { clock: systemClock, log: silentLogger, settings: SETTINGS })
    bus.publish([event('a'), event('b'), event('c')])
    let answer: boolean | undefined
    const waiting = bus.caughtUp(5_000).then((r) => { answer = r })
    await new Promise((r) => setTimeout(r, 20))
    // Nothing delivered yet: not caught up.
    expect(answer).toBeUndefined()
    // Queued after the call: not waited for.
    bus.publish([event('d'), event('e'), event('f')])
    release()
    await waiting
    expect(answer).toBe(true)
    // a, b (first batch) and c, d (second) delivered; e, f held by the closed gate.
    expect(handled).toEqual(['a', 'b', 'c', 'd'])
    expect(await bus.caughtUp(0)).toBe(false)
    bus.stop()
  })

  it('answers false after the timeout while a consumer keeps failing, and at once when nothing is queued', async () => {
    let fail = true
    const bus = new EventBus([{ name: 'failing', types: new Set(['test.happened']), handle: async () => { if (fail) throw new Error('database away') } }], { clock: systemClock, log: silentLogger, settings: SETTINGS })
    expect(await bus.caughtUp(10)).toBe(true)
    bus.publish([event('a')])
    expect(await bus.caughtUp(50)).toBe(false)
    fail = false
    expect(await bus.caughtUp(5_000)).toBe(true)
    bus.stop()
  })
})
