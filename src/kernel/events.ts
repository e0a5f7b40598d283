/**
 * Domain events: facts in past tense, named `noun.verbed`. The wechaty adapter produces the bot/group/member
 * events; features emit their own through `ctx.emit()`. Consumers (features' `onEvent`) receive them after
 * the message chain, in order per group.
 */

/** A member as the platform reports them. */
export interface MemberSnapshot {
  id: string
  name: string
  role?: MemberRole
}

/** Role of a member inside one group. */
export type MemberRole = 'owner' | 'admin' | 'member' | 'bot'

/** Every event the kernel knows; features add theirs under `feature.*` names with a typed payload. */
export type DomainEvent =
  | { type: 'bot.loggedIn'; botId: string; name: string; at: number }
  | { type: 'bot.loggedOut'; botId: string; at: number; reason?: string }
  | { type: 'bot.failed'; botId: string; at: number; error: string }
  | { type: 'group.synced'; botId: string; groupId: string; name: string; ownerId?: string; adminIds: string[]; members: MemberSnapshot[]; at: number }
  | { type: 'group.joined'; botId: string; groupId: string; name: string; inviterId?: string; at: number }
  | { type: 'group.left'; botId: string; groupId: string; at: number; removerId?: string }
  | { type: 'group.renamed'; botId: string; groupId: string; oldName: string; newName: string; changerId?: string; at: number }
  | { type: 'group.invitationReceived'; botId: string; invitationId: string; inviterId: string; inviterName: string; topic: string; at: number }
  | { type: 'member.joined'; botId: string; groupId: string; members: MemberSnapshot[]; inviterId?: string; at: number }
  | { type: 'member.left'; botId: string; groupId: string; memberIds: string[]; removerId?: string; at: number }
  | { type: 'message.processed'; botId: string; groupId: string; memberId: string; messageId: string; at: number }
  | { type: 'rule.violated'; botId: string; groupId: string; memberId: string; messageId: string; detectors: string[]; action: string; strike: number | null; shadow: boolean; at: number }
  | { type: 'checkin.completed'; botId: string; groupId: string; memberId: string; day: string; kind: 'normal' | 'makeup'; rank: number | null; streak: number; points: number; at: number }

/** The `type` strings of all domain events. */
export type DomainEventType = DomainEvent['type']

/** Picks one event variant by its type. */
export type EventOf<T extends DomainEventType> = Extract<DomainEvent, { type: T }>

/** Group the event belongs to, for per-group ordering (undefined for bot-wide events). */
export function eventGroupId(event: DomainEvent): string | undefined {
  return 'groupId' in event ? event.groupId : undefined
}
