import type { DataSource } from 'typeorm'
import type { StorageGate } from '../../kernel/processor'
import { isUnavailable } from './errors'

/**
 * Whether the database can be reached, as the message path needs to know: work that failed because it
 * could not be reached (see isUnavailable) marks it down; `ready()` then probes it (`SELECT 1` every
 * `probeEveryMs`) and resolves every waiter once it answers. One probe loop, however many waiters.
 */
export class DatabaseHealth implements StorageGate {
  private probing: Promise<void> | null = null
  private downSince: number | null = null
  private stopped = false
  /** Outages seen (for metrics and tests). */
  outages = 0

  constructor(private readonly db: DataSource, private readonly options: { probeEveryMs: number; onChange?: (up: boolean) => void }) {}

  /** Whether the database is known to be unreachable now. */
  get down(): boolean { return this.downSince !== null }

  unavailable(error: unknown): boolean { return isUnavailable(error) }

  /** Records that the database could not be reached. */
  markDown(): void {
    if (this.downSince !== null) return
    this.downSince = Date.now()
    this.outages++
    this.options.onChange?.(false)
    // Probe from now on, whether or not work waits: readiness must turn back by itself.
    void this.ready()
  }

  /** Resolves at once when the database is up; otherwise once a probe succeeds. */
  ready(): Promise<void> {
    if (this.downSince === null) return Promise.resolve()
    this.probing ??= this.probe().finally(() => { this.probing = null })
    return this.probing
  }

  /** A readiness check: false while it is known down or does not answer `SELECT 1` within `timeoutMs`. */
  async check(timeoutMs: number): Promise<boolean> {
    if (this.downSince !== null) return false
    let timer: NodeJS.Timeout | undefined
    try {
      await Promise.race([this.db.query('SELECT 1'), new Promise((_, reject) => { timer = setTimeout(() => reject(new Error('timeout')), timeoutMs) })])
      return true
    } catch (error) {
      if (isUnavailable(error) || (error as Error).message === 'timeout') this.markDown()
      return false
    } finally {
      clearTimeout(timer)
    }
  }

  /** Ends the probing: waiters go on (and fail as before) — for shutdown. */
  stop(): void { this.stopped = true }

  private async probe(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.db.query('SELECT 1')
        this.downSince = null
        this.options.onChange?.(true)
        return
      } catch {
        await new Promise((r) => setTimeout(r, this.options.probeEveryMs))
      }
    }
  }
}
