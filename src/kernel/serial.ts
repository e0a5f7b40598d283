/**
 * Runs one asynchronous job at a time with "latest wins" coalescing: a call while the job runs does not
 * join it (the running write does not contain what was recorded after it started) but queues exactly one
 * follow-up run, shared by everyone who asks meanwhile. The follow-up runs even if the running one failed.
 * The flush of buffered counters, logs and marks all need exactly this.
 */
export class SerialRunner {
  private running: Promise<void> | null = null
  private queued: Promise<void> | null = null

  constructor(private readonly job: () => Promise<void>) {}

  /** Whether a run is in progress. */
  get busy(): boolean { return this.running !== null }

  /** Runs the job now, or once more after the running one. */
  run(): Promise<void> {
    if (this.running) {
      this.queued ??= this.running.catch(() => undefined).then(() => {
        this.queued = null
        return this.run()
      })
      return this.queued
    }
    const current = this.job().finally(() => { if (this.running === current) this.running = null })
    this.running = current
    return current
  }
}
