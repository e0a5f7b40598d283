/** Time source. Everything that asks "what time is it" or waits goes through a Clock, so tests can control it. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number
  /** Resolves after `ms` of this clock's time. */
  sleep(ms: number): Promise<void>
}

/** The real clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => { setTimeout(resolve, Math.max(0, ms)).unref?.() }),
}

interface Timer { at: number; seq: number; resolve: () => void }

/**
 * A clock that only moves when told to. `sleep()` resolves when `advance`/`advanceTo` passes its time;
 * timers fire in time order and the event loop is allowed to settle after each, so code woken by a timer
 * can schedule the next one before the clock moves on.
 */
export class FakeClock implements Clock {
  private current: number
  private timers: Timer[] = []
  private seq = 0

  constructor(start: number | Date = Date.UTC(2026, 0, 1)) {
    this.current = typeof start === 'number' ? start : start.getTime()
  }

  now(): number { return this.current }

  sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve()
    return new Promise((resolve) => {
      this.timers.push({ at: this.current + ms, seq: this.seq++, resolve })
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq)
    })
  }

  /** Number of sleepers waiting. */
  pending(): number { return this.timers.length }

  /** Time of the earliest sleeper, if any. */
  nextTimerAt(): number | undefined { return this.timers[0]?.at }

  /** Sets the time without firing timers earlier than it (use advanceTo to fire them). */
  set(time: number | Date): void { this.current = typeof time === 'number' ? time : time.getTime() }

  /** Moves time forward by `ms`, firing due timers in order. */
  async advance(ms: number): Promise<void> { await this.advanceTo(this.current + ms) }

  /** Moves time to `target`, firing every due timer in order and letting the event loop settle after each. */
  async advanceTo(target: number): Promise<void> {
    await settle()
    for (;;) {
      const next = this.timers[0]
      if (!next || next.at > target) break
      this.timers.shift()
      this.current = Math.max(this.current, next.at)
      next.resolve()
      await settle()
    }
    this.current = Math.max(this.current, target)
  }
}

/** Lets pending promise callbacks and I/O callbacks run. */
export async function settle(rounds = 3): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve))
}
