import { GroupRenamed, MemberJoined, MemberLeft } from '../kernel/events'
import { settle, type FakeClock } from '../ports/clock'
import type { SimWorld } from '../adapters/wechaty/sim-world'
import type { Runtime, RuntimeObservation } from '../main'

/** Real-time limit for the runtime to become idle; longer means a step is stuck (a bug). */
const WAIT_LIMIT_MS = 10_000

/** What "done" means for {@link VirtualTime.drain}: the outbound queue empty, or every timer fired too. */
export type DrainUntil = 'outbound' | 'everything'

/**
 * Drives a runtime on a fake clock the way real time would: the clock only moves to the next sleeper's
 * time once everything woken so far has reached its next wait. So a throttled send happens at the
 * instant its throttle allows, a batch window closes at its time, and an input scheduled at 01:00:00.300
 * is delivered at 01:00:00.300 — whatever is still queued. Used by rehearsals, the conversation harness
 * and the simulated community's tests.
 */
export class VirtualTime {
  /** World inputs emitted before this runtime started listening. */
  private baseline = 0
  private answered = 0

  constructor(readonly clock: FakeClock, private readonly runtime: () => Runtime, private readonly world: () => SimWorld | undefined) {}

  /** Counts an observation that answers an input of the simulated world (call it from `runtime.observe`). */
  observed(o: RuntimeObservation): void {
    if (isWorldInput(o, this.world()?.botId)) this.answered++
  }

  /** Restarts the input count (a new world and runtime after a restart). */
  reset(): void {
    this.baseline = this.world()?.inputs ?? 0
    this.answered = 0
  }

  /** Inputs the simulated world emitted that the runtime has not processed yet. */
  private unprocessed(): number {
    const world = this.world()
    return world ? world.inputs - this.baseline - this.answered : 0
  }

  /**
   * Waits (in real time) until nothing is in flight but sleepers on the fake clock: every emitted input
   * processed, the pipeline idle, and the outbound queue empty or waiting on the clock. The state must
   * hold twice with a real pause in between, so work a timer just woke (a database read before it
   * queues a send) gets to its next wait before the clock moves on.
   */
  async idle(): Promise<void> {
    const deadline = Date.now() + WAIT_LIMIT_MS
    let quietChecks = 0
    for (;;) {
      await settle(5)
      const runtime = this.runtime()
      await runtime.processor.idle()
      const outbound = runtime.outbound
      const quiet = this.unprocessed() <= 0 && (outbound.active === 0 || outbound.waitingOnClock)
      quietChecks = quiet ? quietChecks + 1 : 0
      if (quietChecks >= 2) return
      if (Date.now() > deadline) {
        throw new Error(`virtual time: the runtime did not become idle (unprocessed inputs ${this.unprocessed()}, outbound ${outbound.active})`)
      }
      await new Promise((resolve) => setTimeout(resolve, 1))
    }
  }

  /** Moves the clock to `target`, firing each sleeper at its own time and letting what it woke settle first. */
  async runUntil(target: number): Promise<void> {
    for (;;) {
      await this.idle()
      const next = this.clock.nextTimerAt()
      if (next === undefined || next > target) break
      await this.clock.advanceTo(next)
    }
    if (target > this.clock.now()) await this.clock.advanceTo(target)
  }

  /**
   * Runs virtual time until the outbound queue is empty (`outbound`) or no sleeper is left at all
   * (`everything`: batch windows, welcome windows, retries), for at most `maxVirtualMs`. Returns whether
   * it got there.
   */
  async drain(until: DrainUntil, maxVirtualMs: number): Promise<boolean> {
    const limit = this.clock.now() + maxVirtualMs
    for (;;) {
      await this.idle()
      const next = this.clock.nextTimerAt()
      if (this.runtime().outbound.active === 0 && (until === 'outbound' || next === undefined)) return true
      if (next === undefined || next > limit) return false
      await this.clock.advanceTo(next)
    }
  }
}

/**
 * Whether an observation is the runtime's answer to something the simulated world emitted: a message
 * (also a redelivered one), or a join, leave or rename not made by the bot itself.
 */
function isWorldInput(o: RuntimeObservation, botContactId: string | undefined): boolean {
  if (o.kind === 'message') return true
  const e = o.event
  if (MemberJoined.is(e)) return e.inviterId !== botContactId
  if (MemberLeft.is(e)) return e.removerId !== botContactId
  return GroupRenamed.is(e)
}
