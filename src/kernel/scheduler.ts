import cron, { type ScheduledTask } from 'node-cron'
import type { Clock } from '../ports/clock'
import type { JobDefinition } from './feature'
import { errorText, type Logger } from './logger'

/** Outcome of one fenced run. */
export type FencedOutcome = 'ran' | 'skipped' | 'failed'

/** The fence behind scheduled runs: one row per (job, fire time), claimed by exactly one caller. */
export interface FenceStore {
  /**
   * Claims the tick; false when someone (another replica, an earlier attempt) already has it. A claim still
   * `running` but not renewed since `staleBefore` (its process died mid-run) is taken over instead.
   */
  claim(job: string, fireTime: number, owner: string, at: number, staleBefore?: number): Promise<boolean>
  /** Keeps a running claim fresh (so it is not taken over while its owner is alive and working). */
  renew(job: string, fireTime: number, owner: string, at: number): Promise<void>
  /** Records how the claimed run ended. */
  finish(job: string, fireTime: number, outcome: { status: 'done' | 'failed'; at: number; error?: string }): Promise<void>
}

/**
 * Runs scheduled jobs from node-cron. Every run is fenced by a unique (job, fire time) row, so several
 * replicas firing the same tick produce one run, and a retried tick never runs twice. Jobs with
 * `catchUpMs` run, once, the ticks they missed within that window while the process was down. A run whose
 * process died mid-run (its claim still `running`, not renewed for `takeoverMs`) is run again by the next
 * attempt at that tick — a restart's catch-up or another replica's timer — so a kill -9 during a tick loses
 * no run; jobs are written to be re-run safely (their own rows fence their side effects).
 */
export class Scheduler {
  private readonly tasks: ScheduledTask[] = []
  private readonly jobs = new Map<string, JobDefinition>()

  /**
   * `owner` names this process instance in fence rows (unique per start); `takeoverMs`: a running claim not
   * renewed for this long belongs to a dead process and may be taken over (renewed every third of it).
   */
  constructor(private readonly deps: { fences: FenceStore; clock: Clock; log: Logger; owner: string; takeoverMs?: number }) {}

  /** Registers a job; invalid cron expressions fail here, at start, not at the first tick. */
  add(job: JobDefinition): void {
    if (this.jobs.has(job.name)) throw new Error(`job "${job.name}" registered twice`)
    if (!cron.validate(job.cron)) throw new Error(`job "${job.name}": invalid cron expression "${job.cron}"`)
    this.jobs.set(job.name, job)
  }

  /** Starts the timers, after running missed ticks of jobs that catch up. */
  async start(): Promise<void> {
    for (const job of this.jobs.values()) {
      const task = cron.schedule(job.cron, async (ctx) => {
        // Earlier ticks of the window first: one whose run died with its process (a stale claim) runs again here.
        if (job.catchUpMs) for (const tick of missedTicks(task, ctx.date.getTime() - 1, job.catchUpMs)) await this.runFenced(job.name, tick)
        await this.runFenced(job.name, ctx.date)
      }, {
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
      const takeoverMs = this.deps.takeoverMs
      claimed = await fences.claim(name, tick, this.deps.owner, clock.now(), takeoverMs === undefined ? undefined : clock.now() - takeoverMs)
    } catch (error) {
      log.error('job fence unavailable; tick not run', { job: name, fireTime: fireTime.toISOString(), error: errorText(error) })
      return 'failed'
    }
    if (!claimed) {
      log.debug('job tick already taken', { job: name, fireTime: fireTime.toISOString() })
      return 'skipped'
    }
    const jobLog = log.child({ job: name })
    const takeoverMs = this.deps.takeoverMs
    const renewal = takeoverMs === undefined ? undefined : setInterval(() => {
      void fences.renew(name, tick, this.deps.owner, clock.now()).catch((error: unknown) => jobLog.warn('job fence not renewed', { error: errorText(error) }))
    }, Math.max(100, Math.floor(takeoverMs / 3)))
    renewal?.unref()
    try {
      await job.run(fireTime)
      clearInterval(renewal)
      await fences.finish(name, tick, { status: 'done', at: clock.now() })
      jobLog.debug('job finished', { fireTime: fireTime.toISOString() })
      return 'ran'
    } catch (error) {
      clearInterval(renewal)
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
