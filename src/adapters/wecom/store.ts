import { createHash } from 'node:crypto'
import { Brackets, type DataSource } from 'typeorm'
import { isDuplicate } from '../db/errors'
import { WecomGroupLinkEntity, WecomInboxEntity, WecomMemberLinkEntity } from './wecom.entity'
import type { XmlValue } from './xml'

/** Inbox rows deleted per statement by the daily purge (as the retention purge's default batch). */
const INBOX_PURGE_BATCH = 2_000

/** A stored callback the inbox worker has claimed. */
export interface InboxItem { id: number; payload: Record<string, XmlValue>; attempts: number }

/** A link between a WeCom chat id and a puppet room id. */
export interface GroupLink { chatId: string; roomId: string; source: 'auto' | 'manual'; linkedBy: number | null; linkedAt: number }

/** The key of a decrypted callback: the same change (delivered again, re-encrypted) has the same key. */
export function eventKeyOf(payload: Record<string, XmlValue>): string {
  const canonical = JSON.stringify(Object.keys(payload).sort().map((k) => [k, payload[k]]))
  return createHash('sha256').update(canonical).digest('hex')
}

/**
 * The official API's durable state: the callback inbox (rows claimed with one conditional UPDATE each,
 * so two replicas never process one row at once) and channel both's group and member links.
 */
export class WecomStore {
  constructor(private readonly db: DataSource) {}

  /** Stores a verified callback; false when the same event is already stored (a WeCom retry). */
  async put(botId: string, payload: Record<string, XmlValue>, at: number, dueAt: number): Promise<boolean> {
    try {
      await this.db.getRepository(WecomInboxEntity).insert({
        botId, eventKey: eventKeyOf(payload), payload: payload as Record<string, string | string[]>, status: 'pending', attempts: 0, error: null,
        receivedAt: at, dueAt, processedAt: null, claimOwner: null, claimUntil: null,
      })
      return true
    } catch (error) {
      if (isDuplicate(error)) return false
      throw error
    }
  }

  /** Claims up to `limit` due rows of a bot (unclaimed or whose claim expired) for `owner` until `until`. */
  async claimDue(botId: string, owner: string, now: number, until: number, limit: number): Promise<InboxItem[]> {
    const repo = this.db.getRepository(WecomInboxEntity)
    const candidates = await repo.createQueryBuilder('i')
      .select(['i.id'])
      .where('i.bot_id = :botId AND i.status = :pending AND i.due_at <= :now', { botId, pending: 'pending', now })
      .andWhere(new Brackets((w) => { w.where('i.claim_owner IS NULL').orWhere('i.claim_until < :now', { now }).orWhere('i.claim_owner = :owner', { owner }) }))
      .orderBy('i.id', 'ASC').limit(limit).getMany()
    const claimed: InboxItem[] = []
    for (const { id } of candidates) {
      const result = await repo.createQueryBuilder().update(WecomInboxEntity)
        .set({ claimOwner: owner, claimUntil: until, attempts: () => 'attempts + 1' })
        .where('id = :id AND status = :pending', { id, pending: 'pending' })
        .andWhere(new Brackets((w) => { w.where('claim_owner IS NULL').orWhere('claim_until < :now', { now }).orWhere('claim_owner = :owner', { owner }) }))
        .execute()
      if ((result.affected ?? 0) !== 1) continue
      const row = await repo.findOneBy({ id })
      if (row) claimed.push({ id, payload: row.payload, attempts: row.attempts })
    }
    return claimed
  }

  /** Marks a claimed row processed. */
  async done(id: number, owner: string, at: number): Promise<void> {
    await this.db.getRepository(WecomInboxEntity).createQueryBuilder().update(WecomInboxEntity)
      .set({ status: 'done', processedAt: at, claimOwner: null, claimUntil: null, error: null })
      .where('id = :id AND claim_owner = :owner', { id, owner }).execute()
  }

  /** Gives a claimed row back: due again at `dueAt`, or failed for good. */
  async release(id: number, owner: string, outcome: { dueAt: number; error?: string; failed?: boolean; at: number }): Promise<void> {
    await this.db.getRepository(WecomInboxEntity).createQueryBuilder().update(WecomInboxEntity)
      .set({ status: outcome.failed ? 'failed' : 'pending', dueAt: outcome.dueAt, error: outcome.error?.slice(0, 500) ?? null, claimOwner: null, claimUntil: null, processedAt: outcome.failed ? outcome.at : null })
      .where('id = :id AND claim_owner = :owner', { id, owner }).execute()
  }

  /** Rows of a bot by status (tests, health). */
  async count(botId: string, status: 'pending' | 'done' | 'failed'): Promise<number> {
    return this.db.getRepository(WecomInboxEntity).countBy({ botId, status })
  }

  /**
   * Deletes processed rows older than `before` (the inbox is not an archive), in batches like the
   * retention purge: select at most `batchSize` ids, delete exactly those in one short statement, yield,
   * repeat — on MySQL a large backlog never holds the inbox (which callbacks write to) locked for long.
   */
  async purge(before: number, batchSize = INBOX_PURGE_BATCH): Promise<number> {
    const repo = this.db.getRepository(WecomInboxEntity)
    let total = 0
    for (;;) {
      const rows = await repo.createQueryBuilder('i').select('i.id', 'id')
        .where('i.status <> :pending AND i.received_at < :before', { pending: 'pending', before })
        .orderBy('i.id').limit(batchSize).getRawMany<{ id: number | string }>()
      if (rows.length === 0) break
      const result = await repo.createQueryBuilder().delete().from(WecomInboxEntity).where('id IN (:...ids)', { ids: rows.map((r) => Number(r.id)) }).execute()
      total += result.affected ?? rows.length
      this.purgeStatements++
      if (rows.length < batchSize) break
      await new Promise<void>((resolve) => setImmediate(resolve))
    }
    return total
  }

  /** Delete statements the inbox purge ran (tests check it batches). */
  purgeStatements = 0

  // ---- channel both: group and member links ----

  /** Every group link of a bot. */
  async links(botId: string): Promise<GroupLink[]> {
    const rows = await this.db.getRepository(WecomGroupLinkEntity).findBy({ botId })
    return rows.map((r) => ({ chatId: r.chatId, roomId: r.roomId, source: r.source === 'manual' ? 'manual' : 'auto', linkedBy: r.linkedBy, linkedAt: r.linkedAt }))
  }

  /** The link of one chat id, or of one room id. */
  async linkBy(botId: string, by: { chatId: string } | { roomId: string }): Promise<GroupLink | null> {
    const row = await this.db.getRepository(WecomGroupLinkEntity).findOneBy({ botId, ...by })
    return row ? { chatId: row.chatId, roomId: row.roomId, source: row.source === 'manual' ? 'manual' : 'auto', linkedBy: row.linkedBy, linkedAt: row.linkedAt } : null
  }

  /**
   * Links a chat id to a room id, replacing any earlier link of either (a manual fix overrides an automatic
   * match). One transaction, so the (bot, room) unique key never sees two rows.
   */
  async link(botId: string, link: GroupLink): Promise<void> {
    await this.db.transaction(async (m) => {
      const repo = m.getRepository(WecomGroupLinkEntity)
      await repo.delete({ botId, roomId: link.roomId })
      await repo.delete({ botId, chatId: link.chatId })
      await repo.insert({ botId, ...link })
    })
  }

  /** Removes the link of a chat id; returns whether there was one. */
  async unlink(botId: string, chatId: string): Promise<boolean> {
    const result = await this.db.getRepository(WecomGroupLinkEntity).delete({ botId, chatId })
    return (result.affected ?? 0) > 0
  }

  /** Official member ids → puppet ids of a bot (only the ids asked for). */
  async memberLinks(botId: string, officialIds: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>()
    if (officialIds.length === 0) return out
    const repo = this.db.getRepository(WecomMemberLinkEntity)
    for (let i = 0; i < officialIds.length; i += 200) {
      const rows = await repo.createQueryBuilder('l').where('l.bot_id = :botId AND l.official_id IN (:...ids)', { botId, ids: officialIds.slice(i, i + 200) }).getMany()
      for (const r of rows) out.set(r.officialId, r.puppetId)
    }
    return out
  }

  /** Records official id → puppet id pairs. */
  async linkMembers(botId: string, pairs: ReadonlyArray<[string, string]>, at: number): Promise<void> {
    if (pairs.length === 0) return
    await this.db.getRepository(WecomMemberLinkEntity).upsert(pairs.map(([officialId, puppetId]) => ({ botId, officialId, puppetId, linkedAt: at })), ['botId', 'officialId'])
  }

  /** Erases a member's links (either id). */
  async eraseMember(memberId: string): Promise<number> {
    const repo = this.db.getRepository(WecomMemberLinkEntity)
    const a = await repo.delete({ officialId: memberId })
    const b = await repo.delete({ puppetId: memberId })
    return (a.affected ?? 0) + (b.affected ?? 0)
  }
}
