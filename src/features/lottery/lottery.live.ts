import { In, MoreThanOrEqual } from 'typeorm'
import type { FeatureTables } from '../../adapters/db/feature-store'
import { servesGroup, type AccessService } from '../../contracts/access'
import { errorText, type Logger } from '../../kernel/logger'
import type { Clock } from '../../ports/clock'
import type { Disposer, PubSub } from '../../ports/ports'
import { normalizeCommand } from '../../text/normalize'
import { LotteryEntity } from './lottery.entity'
import { live, type Lottery } from './lottery.service'

const CHANNEL = 'lottery:changed'
/** How long after a draw a late keyword still gets the "closed" answer. */
const LATE_ANSWER_MS = 86_400_000
/** Re-read at least this often (a missed notice never leaves a replica stale for long). */
const MAX_AGE_MS = 30_000

/** A lottery the message path may meet, with its keyword in matching form. */
export interface LiveLottery extends Lottery { keyword: string }

/**
 * The lotteries the message path looks at — open ones (entries) and recently closed or drawn ones (the
 * "already closed" answer) — per group, cached. Every change drops the cache here and, through pub/sub,
 * on every replica.
 */
export class LiveLotteries {
  private cached: { at: number; byGroup: Promise<Map<string, LiveLottery[]>> } | null = null
  private readonly disposers: Disposer[] = []

  constructor(private readonly deps: { db: FeatureTables; pubsub: PubSub; access: AccessService; clock: Clock; log: Logger }) {}

  async start(): Promise<void> {
    this.disposers.push(await this.deps.pubsub.subscribe(CHANNEL, () => { this.cached = null }))
  }

  async stop(): Promise<void> { for (const d of this.disposers.splice(0)) await d() }

  /** Drops the cache here and on every replica. */
  async changed(): Promise<void> {
    this.cached = null
    await this.deps.pubsub.publish(CHANNEL, 'changed')
  }

  /** Live lotteries of a group, oldest first. */
  async forGroup(groupId: string): Promise<LiveLottery[]> {
    const now = this.deps.clock.now()
    if (!this.cached || now - this.cached.at > MAX_AGE_MS) {
      const building = this.build(now)
      const entry = { at: now, byGroup: building }
      this.cached = entry
      building.catch(() => { if (this.cached === entry) this.cached = null })
    }
    return (await this.cached.byGroup).get(groupId) ?? []
  }

  private async build(now: number): Promise<Map<string, LiveLottery[]>> {
    const rows = await this.deps.db.repo(LotteryEntity).find({
      where: [{ status: In(['open', 'closed']) }, { status: 'drawn', drawnAt: MoreThanOrEqual(now - LATE_ANSWER_MS) }], order: { id: 'ASC' },
    })
    const scopes = await this.deps.access.scopes()
    const byGroup = new Map<string, LiveLottery[]>()
    for (const row of rows) {
      let l: Lottery
      try { l = live(row) } catch (error) {
        this.deps.log.error('stored lottery no longer valid; skipped', { lotteryId: row.id, error: errorText(error) })
        continue
      }
      const keyword = normalizeCommand(l.config.entry.keyword)
      if (keyword === '') continue
      // A lottery never serves a group its owner lost.
      for (const groupId of l.config.groupIds) {
        if (!servesGroup(scopes, row.ownerTokenId, groupId)) continue
        byGroup.set(groupId, [...(byGroup.get(groupId) ?? []), { ...l, keyword }])
      }
    }
    return byGroup
  }
}
