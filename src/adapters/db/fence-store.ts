import type { DataSource } from 'typeorm'
import type { FenceStore } from '../../kernel/scheduler'
import { JobRunEntity } from './core.entity'
import { isDuplicate } from './errors'

/** The scheduler's fence in the database: the primary key (job, fire time) admits one claim per tick. */
export class DbFenceStore implements FenceStore {
  constructor(private readonly db: DataSource) {}

  async claim(job: string, fireTime: number, owner: string, at: number): Promise<boolean> {
    try {
      await this.db.getRepository(JobRunEntity).insert({ job, fireTime: String(fireTime), owner, status: 'running', startedAt: at, finishedAt: null, error: null })
      return true
    } catch (error) {
      if (isDuplicate(error)) return false
      throw error
    }
  }

  async finish(job: string, fireTime: number, outcome: { status: 'done' | 'failed'; at: number; error?: string }): Promise<void> {
    await this.db.getRepository(JobRunEntity).update({ job, fireTime: String(fireTime) }, { status: outcome.status, finishedAt: outcome.at, error: outcome.error ?? null })
  }
}
