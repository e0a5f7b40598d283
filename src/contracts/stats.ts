import { serviceKey } from '../kernel/feature'

/** What a rebuild of one group's message rollups did. */
export interface StatsRebuildReport {
  groupId: string
  from: string
  to: string
  /** Logged messages of the range read. */
  messages: number
  /** Whether terms and questions were recomputed too (false: some text of the range is not in the log, so they were kept). */
  content: boolean
  /** Group-day rows written. */
  days: number
}

/**
 * Recomputes the stats feature's message rollups of one group over a range of past local days from the
 * retained message log (the `qunyun stats rebuild` command). Idempotent; one rebuild per group at a time.
 */
export interface StatsRebuild {
  rebuild(groupId: string, from: string, to: string): Promise<StatsRebuildReport>
}

/** The rebuild service (provided by the stats feature). */
export const STATS_REBUILD = serviceKey<StatsRebuild>('stats.rebuild')
