import type { DataSource } from 'typeorm'
import type { FenceStore } from '../../kernel/scheduler'
import { JobRunEntity } from './core.entity'
import { isDuplicate } from './errors'

/** The scheduler's fence in the database: the primary key (job, fire time) admits one claim per tick. */
export class DbFenceStore implements FenceStore {
  constructor(private readonly db: DataSource) {}

  async claim(job: string, fireTime: number, owner: string, at: number, staleBefore?: number): Promise<boolean> {
    const repo = this.db.getRepository(JobRunEntity)
    try {
      await repo.insert({ job, fireTime: String(fireTime), owner, status: 'running', startedAt: at, finishedAt: null, error: null })
      return true
    } catch (error) {
      if (!isDuplicate(error)) throw error
    }
    if (staleBefore === undefined) return false
    // A run left `running` by a process that died (no renewal since staleBefore): one conditional update takes it over.
    const taken = await repo.createQueryBuilder().update().set({ owner, startedAt: at })
      .where('job = :job AND fire_time = :fireTime AND status = :status AND started_at < :staleBefore', { job, fireTime: String(fireTime), status: 'running', staleBefore })
      .execute()
    return taken.affected === 1
  }

  async renew(job: string, fireTime: number, owner: string, at: number): Promise<void> {
    await this.db.getRepository(JobRunEntity).update({ job, fireTime: String(fireTime), owner, status: 'running' }, { startedAt: at })
  }

  async finish(job: string, fireTime: number, outcome: { status: 'done' | 'failed'; at: number; error?: string }): Promise<void> {
    await this.db.getRepository(JobRunEntity).update({ job, fireTime: String(fireTime) }, { status: outcome.status, finishedAt: outcome.at, error: outcome.error ?? null })
  }
}
