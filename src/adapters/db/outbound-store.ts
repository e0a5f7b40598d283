import type { DataSource } from 'typeorm'
import type { OutboundAction } from '../../kernel/context'
import type { OutboundStatus, OutboundStore } from '../../kernel/outbound'
import { OutboundEntity } from './core.entity'

/** The outbound queue's durable record in the database. */
export class DbOutboundStore implements OutboundStore {
  constructor(private readonly db: DataSource) {}

  async save(action: OutboundAction, queuedAt: number): Promise<number> {
    const result = await this.db.getRepository(OutboundEntity).insert({
      botId: action.botId, groupId: 'groupId' in action ? action.groupId ?? null : null, kind: action.kind,
      payload: action, status: 'pending', attempts: 0, error: null, queuedAt, finishedAt: null,
    })
    return Number(result.identifiers[0]?.id)
  }

  async finish(id: number, outcome: { status: OutboundStatus; attempts: number; error?: string; at: number }): Promise<void> {
    await this.db.getRepository(OutboundEntity).update({ id }, {
      status: outcome.status, attempts: outcome.attempts, error: outcome.error?.slice(0, 500) ?? null, finishedAt: outcome.at,
    })
  }

  async pending(botId: string): Promise<Array<{ id: number; action: OutboundAction; queuedAt: number }>> {
    const rows = await this.db.getRepository(OutboundEntity).find({ where: { botId, status: 'pending' }, order: { id: 'ASC' } })
    return rows.map((r) => ({ id: r.id, action: r.payload as OutboundAction, queuedAt: r.queuedAt }))
  }
}
