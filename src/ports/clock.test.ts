import { FakeClock, settle, systemClock } from './clock'

describe('FakeClock', () => {
  it('starts at 2026-01-01T00:00:00Z by default, or at the given time / Date', () => {
    expect(new FakeClock().now()).toBe(Date.UTC(2026, 0, 1))
    expect(new FakeClock(1234).now()).toBe(1234)
    expect(new FakeClock(new Date('2030-05-06T07:08:09Z')).now()).toBe(Date.parse('2030-05-06T07:08:09Z'))
  })

  it('does not move on its own', async () => {
    const clock = new FakeClock(0)
    await new Promise((r) => setTimeout(r, 3))
    expect(clock.now()).toBe(0)
  })

  it('sleep() resolves only when the clock is advanced past its time', async () => {
    const clock = new FakeClock(0)
    let woke = false
    void clock.sleep(1000).then(() => { woke = true })
    await settle()
    expect(woke).toBe(false)
    expect(clock.pending()).toBe(1)
    expect(clock.nextTimerAt()).toBe(1000)

    await clock.advance(999)
    expect(woke).toBe(false)
    expect(clock.now()).toBe(999)

    await clock.advance(1)
    expect(woke).toBe(true)
    expect(clock.now()).toBe(1000)
    expect(clock.pending()).toBe(0)
  })

  it('sleep(0) and negative sleeps resolve at once without a timer', async () => {
    const clock = new FakeClock(0)
    await clock.sleep(0)
    await clock.sleep(-5)
    expect(clock.pending()).toBe(0)
  })

  it('a woken sleeper sees now() equal to its own due time, even when advanced far beyond', async () => {
    const clock = new FakeClock(0)
    const seen: number[] = []
    void clock.sleep(300).then(() => { seen.push(clock.now()) })
    void clock.sleep(100).then(() => { seen.push(clock.now()) })
    await clock.advance(10_000)
    expect(seen).toEqual([100, 300])
    expect(clock.now()).toBe(10_000)
  })

  it('fires timers in time order, and equal times in the order they were scheduled', async () => {
    const clock = new FakeClock(0)
    const order: string[] = []
    const track = (name: string, ms: number): void => { void clock.sleep(ms).then(() => { order.push(name) }) }
    track('c', 300)
    track('a', 100)
    track('b1', 200)
    track('b2', 200)
    track('d', 400)
    await clock.advance(350)
    expect(order).toEqual(['a', 'b1', 'b2', 'c'])
    expect(clock.pending()).toBe(1)
    await clock.advance(50)
    expect(order).toEqual(['a', 'b1', 'b2', 'c', 'd'])
  })

  it('advanceTo fires chained sleeps scheduled by woken code within the same advance when due', async () => {
    const clock = new FakeClock(0)
    const ticks: number[] = []
    const loop = async (): Promise<void> => {
      for (let i = 0; i < 5; i++) {
        await clock.sleep(100)
        ticks.push(clock.now())
      }
    }
    const done = loop()
    await clock.advanceTo(350)
    expect(ticks).toEqual([100, 200, 300])
    expect(clock.nextTimerAt()).toBe(400)
    await clock.advanceTo(1_000)
    await done
    expect(ticks).toEqual([100, 200, 300, 400, 500])
    expect(clock.now()).toBe(1_000)
  })

  it('a chained sleep due after the target is left pending', async () => {
    const clock = new FakeClock(0)
    let second = false
    void (async () => {
      await clock.sleep(100)
      await clock.sleep(1_000)
      second = true
    })()
    await clock.advance(500)
    expect(second).toBe(false)
    expect(clock.nextTimerAt()).toBe(1_100)
    await clock.advance(600)
    expect(second).toBe(true)
  })

  it('woken code that awaits other promises before sleeping again still gets its timer fired in the same advance', async () => {
    const clock = new FakeClock(0)
    const ticks: number[] = []
    void (async () => {
      for (let i = 0; i < 3; i++) {
        await clock.sleep(10)
        await Promise.resolve()
        await new Promise<void>((r) => setImmediate(r))
        ticks.push(clock.now())
      }
    })()
    await clock.advance(30)
    expect(ticks).toEqual([10, 20, 30])
  })

  it('advanceTo never moves time backwards', async () => {
    const clock = new FakeClock(5_000)
    await clock.advanceTo(1_000)
    expect(clock.now()).toBe(5_000)
  })

  it('set() changes the time without firing timers; advanceTo then fires them', async () => {
    const clock = new FakeClock(0)
    let woke = false
    void clock.sleep(100).then(() => { woke = true })
    clock.set(500)
    await settle()
    expect(clock.now()).toBe(500)
    expect(woke).toBe(false)
    await clock.advanceTo(500)
    expect(woke).toBe(true)
    // Timer time is in the past; now() does not jump back to it.
    expect(clock.now()).toBe(500)
    clock.set(new Date(42))
    expect(clock.now()).toBe(42)
  })

  it('sleeps are relative to the time they were scheduled at', async () => {
    const clock = new FakeClock(0)
    await clock.advance(1_000)
    const woke: number[] = []
    void clock.sleep(250).then(() => { woke.push(clock.now()) })
    await clock.advance(249)
    expect(woke).toEqual([])
    await clock.advance(1)
    expect(woke).toEqual([1_250])
  })
})

describe('systemClock', () => {
  it('tracks Date.now and sleeps for real', async () => {
    const before = Date.now()
    expect(Math.abs(systemClock.now() - before)).toBeLessThan(50)
    const start = Date.now()
    await systemClock.sleep(5)
    expect(Date.now() - start).toBeGreaterThanOrEqual(4)
    await systemClock.sleep(-1)
  })
})
