import cron, { type ScheduledTask } from 'node-cron'
import type { Clock } from '../ports/clock'
import type { JobDefinition } from './feature'
import { errorText, type Logger } from './logger'

/** Outcome of one fenced run. */
export type FencedOutcome = 'ran' | 'skipped' | 'failed'

/** The fence behind scheduled runs: one row per (job, fire time), claimed by exactly one caller. */
export interface FenceStore {
  /** Claims the tick; false when someone (another replica, an earlier attempt) already has it. */
  claim(job: string, fireTime: number, owner: string, at: number): Promise<boolean>
  /** Records how the claimed run ended. */
  finish(job: string, fireTime: number, outcome: { status: 'done' | 'failed'; at: number; error?: string }): Promise<void>
}

/**
 * Runs scheduled jobs from node-cron. Every run is fenced by a unique (job, fire time) row, so several
 * replicas firing the same tick produce one run, and a retried tick never runs twice. Jobs with
 * `catchUpMs` run, once, the ticks they missed within that window while the process was down.
 */
export class Scheduler {
  private readonly tasks: ScheduledTask[] = []
  private readonly jobs = new Map<string, JobDefinition>()

  constructor(private readonly deps: { fences: FenceStore; clock: Clock; log: Logger; owner: string }) {}

  /** Registers a job; invalid cron expressions fail here, at start, not at the first tick. */
  add(job: JobDefinition): void {
    if (this.jobs.has(job.name)) throw new Error(`job "${job.name}" registered twice`)
    if (!cron.validate(job.cron)) throw new Error(`job "${job.name}": invalid cron expression "${job.cron}"`)
    this.jobs.set(job.name, job)
  }

  /** Starts the timers, after running missed ticks of jobs that catch up. */
  async start(): Promise<void> {
    for (const job of this.jobs.values()) {
      const task = cron.schedule(job.cron, async (ctx) => { await this.runFenced(job.name, ctx.date) }, {
        name: job.name, timezone: job.timezone, noOverlap: true, suppressMissedWarning: true,
      })
      this.tasks.push(task)
      if (job.catchUpMs) {
        for (const tick of missedTicks(task, this.deps.clock.now(), job.catchUpMs)) await this.runFenced(job.name, tick)
      }
    }
  }

  /** Runs `name` for `fireTime` unless a run for that tick already exists. */
  async runFenced(name: string, fireTime: Date): Promise<FencedOutcome> {
    const job = this.jobs.get(name)
    if (!job) throw new Error(`unknown job "${name}"`)
    const { fences, clock, log } = this.deps
    const tick = fireTime.getTime()
    let claimed: boolean
    try {
      claimed = await fences.claim(name, tick, this.deps.owner, clock.now())
    } catch (error) {
      log.error('job fence unavailable; tick not run', { job: name, fireTime: fireTime.toISOString(), error: errorText(error) })
      return 'failed'
    }
    if (!claimed) {
      log.debug('job tick already taken', { job: name, fireTime: fireTime.toISOString() })
      return 'skipped'
    }
    const jobLog = log.child({ job: name })
    try {
      await job.run(fireTime)
      await fences.finish(name, tick, { status: 'done', at: clock.now() })
      jobLog.debug('job finished', { fireTime: fireTime.toISOString() })
      return 'ran'
    } catch (error) {
      await fences.finish(name, tick, { status: 'failed', at: clock.now(), error: errorText(error).slice(0, 500) }).catch(() => undefined)
      jobLog.error('job failed', { fireTime: fireTime.toISOString(), error: errorText(error) })
      return 'failed'
    }
  }

  /** Stops every timer (running jobs finish on their own). */
  async stop(): Promise<void> {
    for (const task of this.tasks.splice(0)) await task.destroy()
  }
}

/** Fire times of `task` in (now − windowMs, now], oldest first (minute resolution, as cron ticks are). */
export function missedTicks(task: Pick<ScheduledTask, 'match'>, now: number, windowMs: number): Date[] {
  const out: Date[] = []
  const last = Math.floor(now / 60_000) * 60_000
  for (let t = last - Math.floor(windowMs / 60_000) * 60_000; t <= last; t += 60_000) {
    if (t > now - windowMs && task.match(new Date(t))) out.push(new Date(t))
  }
  return out
}
