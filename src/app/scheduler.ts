import cron, { type ScheduledTask } from 'node-cron'
import type { DataSource } from 'typeorm'
import type { JobDefinition } from '../kernel/feature'
import type { Logger } from '../kernel/logger'
import { errorText } from '../kernel/processor'
import type { Clock } from '../ports/clock'
import { JobRunEntity } from '../adapters/db/core.entity'

/** Outcome of one fenced run. */
export type FencedOutcome = 'ran' | 'skipped' | 'failed'

/**
 * Runs scheduled jobs from node-cron. Every run is fenced by a unique (job, fire time) row, so several
 * replicas firing the same tick produce one run, and a retried tick never runs twice.
 */
export class Scheduler {
  private readonly tasks: ScheduledTask[] = []
  private readonly jobs = new Map<string, JobDefinition>()

  constructor(private readonly deps: { db: DataSource; clock: Clock; log: Logger; owner: string }) {}

  /** Registers a job; invalid cron expressions fail here, at start, not at the first tick. */
  add(job: JobDefinition): void {
    if (this.jobs.has(job.name)) throw new Error(`job "${job.name}" registered twice`)
    if (!cron.validate(job.cron)) throw new Error(`job "${job.name}": invalid cron expression "${job.cron}"`)
    this.jobs.set(job.name, job)
  }

  /** Starts the timers. */
  start(): void {
    for (const job of this.jobs.values()) {
      const task = cron.schedule(job.cron, async (ctx) => { await this.runFenced(job.name, ctx.date) }, {
        name: job.name, timezone: job.timezone, noOverlap: true, suppressMissedWarning: true,
      })
      this.tasks.push(task)
    }
  }

  /** Runs `name` for `fireTime` unless a run for that tick already exists. */
  async runFenced(name: string, fireTime: Date): Promise<FencedOutcome> {
    const job = this.jobs.get(name)
    if (!job) throw new Error(`unknown job "${name}"`)
    const repo = this.deps.db.getRepository(JobRunEntity)
    const key = { job: name, fireTime: String(fireTime.getTime()) }
    try {
      await repo.insert({ ...key, owner: this.deps.owner, status: 'running', startedAt: this.deps.clock.now(), finishedAt: null, error: null })
    } catch {
      this.deps.log.debug('job tick already taken', { job: name, fireTime: fireTime.toISOString() })
      return 'skipped'
    }
    const log = this.deps.log.child({ job: name })
    try {
      await job.run(fireTime)
      await repo.update(key, { status: 'done', finishedAt: this.deps.clock.now() })
      log.info('job finished', { fireTime: fireTime.toISOString() })
      return 'ran'
    } catch (error) {
      await repo.update(key, { status: 'failed', finishedAt: this.deps.clock.now(), error: errorText(error).slice(0, 500) })
      log.error('job failed', { fireTime: fireTime.toISOString(), error: errorText(error) })
      return 'failed'
    }
  }

  /** Stops every timer (running jobs finish on their own). */
  async stop(): Promise<void> {
    for (const task of this.tasks.splice(0)) await task.destroy()
  }
}
