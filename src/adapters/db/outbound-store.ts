import { Brackets, In, type DataSource } from 'typeorm'
import type { OutboundAction } from '../../kernel/context'
import type { Claim, OutboundStatus, OutboundStore } from '../../kernel/outbound'
import { OutboundEntity } from './core.entity'
import { isDuplicate } from './errors'

/** Keys per lookup statement. */
const KEY_LOOKUP_CHUNK = 500

/**
 * The outbound queue's durable record in the database. Claims are two columns of the row (claim_owner,
 * claim_until); every change of a claim is one conditional UPDATE, atomic on SQLite and MySQL alike, so
 * two replicas can never both hold a row.
 */
export class DbOutboundStore implements OutboundStore {
  constructor(private readonly db: DataSource) {}

  private get repo() { return this.db.getRepository(OutboundEntity) }

  async save(action: OutboundAction, queuedAt: number, claim?: Claim | null): Promise<number | null> {
    try {
      const result = await this.repo.insert({
        botId: action.botId, groupId: 'groupId' in action ? action.groupId ?? null : null, kind: action.kind,
        payload: action, status: 'pending', attempts: 0, error: null, queuedAt, finishedAt: null,
        claimOwner: claim?.owner ?? null, claimUntil: claim?.until ?? null, actionKey: action.key ?? null,
      })
      return Number(result.identifiers[0]?.id)
    } catch (error) {
      // The unique key decides between replicas (and a re-post after a crash): the first insert wins.
      if (action.key !== undefined && isDuplicate(error)) return null
      throw error
    }
  }

  async storedKeys(keys: readonly string[]): Promise<Set<string>> {
    const found = new Set<string>()
    // By the unique key's index, a bounded IN list per statement.
    for (let i = 0; i < keys.length; i += KEY_LOOKUP_CHUNK) {
      const rows = await this.repo.find({ select: { actionKey: true }, where: { actionKey: In(keys.slice(i, i + KEY_LOOKUP_CHUNK)) } })
      for (const row of rows) if (row.actionKey !== null) found.add(row.actionKey)
    }
    return found
  }

  async finish(id: number, outcome: { status: OutboundStatus; attempts: number; error?: string; at: number }, owner?: string): Promise<void> {
    const q = this.repo.createQueryBuilder().update(OutboundEntity)
      .set({ status: outcome.status, attempts: outcome.attempts, error: outcome.error?.slice(0, 500) ?? null, finishedAt: outcome.at })
      .where('id = :id', { id })
    // Only the claim's owner records the outcome; after a takeover the row is the new owner's.
    if (owner !== undefined) q.andWhere('claim_owner = :owner', { owner })
    await q.execute()
  }

  async pending(botId: string, claim?: Claim): Promise<Array<{ id: number; action: OutboundAction; queuedAt: number }>> {
    if (claim) {
      await this.repo.createQueryBuilder().update(OutboundEntity)
        .set({ claimOwner: claim.owner, claimUntil: claim.until })
        .where('bot_id = :botId AND status = :pending', { botId, pending: 'pending' })
        .andWhere(new Brackets((w) => {
          w.where('claim_owner IS NULL').orWhere('claim_until < :now', { now: claim.now }).orWhere('claim_owner = :owner', { owner: claim.owner })
        }))
        .execute()
    }
    const rows = await this.repo.find({ where: claim ? { botId, status: 'pending', claimOwner: claim.owner } : { botId, status: 'pending' }, order: { id: 'ASC' } })
    return rows.map((r) => ({ id: r.id, action: r.payload as OutboundAction, queuedAt: r.queuedAt }))
  }

  async begin(id: number, claim: Claim): Promise<boolean> {
    const result = await this.repo.createQueryBuilder().update(OutboundEntity)
      .set({ claimUntil: claim.until, attempts: () => 'attempts + 1' })
      .where('id = :id AND status = :pending AND claim_owner = :owner', { id, pending: 'pending', owner: claim.owner })
      .execute()
    return (result.affected ?? 0) === 1
  }

  async renewClaims(claim: Claim): Promise<number> {
    const result = await this.repo.createQueryBuilder().update(OutboundEntity)
      .set({ claimUntil: claim.until })
      .where('claim_owner = :owner AND status = :pending', { owner: claim.owner, pending: 'pending' })
      .execute()
    return result.affected ?? 0
  }

  async releaseClaims(botId: string, owner: string): Promise<number> {
    const result = await this.repo.createQueryBuilder().update(OutboundEntity)
      .set({ claimOwner: null, claimUntil: null })
      .where('bot_id = :botId AND claim_owner = :owner AND status = :pending', { botId, owner, pending: 'pending' })
      .execute()
    return result.affected ?? 0
  }
}
