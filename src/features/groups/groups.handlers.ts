import type { DataSource } from 'typeorm'
import { withTransaction } from '../../adapters/db/transaction'
import type { DomainEvent, EventOf, MemberSnapshot } from '../../kernel/events'
import type { ActionSink } from '../../kernel/context'
import type { Logger } from '../../kernel/logger'
import type { Clock } from '../../ports/clock'
import type { Config } from '../../config/config.schema'
import { CachedGroupDirectory, toGroupInfo } from './groups.directory'
import { GroupEntity, GroupEventEntity, MemberEntity } from './groups.entity'

/**
 * Keeps the group registry current from platform events: groups synced at login, the bot added or
 * removed, renames, member joins and leaves (with time and inviter), and room invitations (accepted
 * when the inviter is allowed).
 */
export class GroupsRecorder {
  constructor(private readonly deps: {
    db: DataSource
    directory: CachedGroupDirectory
    outbound: ActionSink
    clock: Clock
    log: Logger
    config: Config
  }) {}

  /** Applies one domain event. */
  async handle(event: DomainEvent): Promise<void> {
    switch (event.type) {
      case 'group.synced': return this.synced(event)
      case 'group.joined': return this.botJoined(event)
      case 'group.left': return this.botLeft(event)
      case 'group.renamed': return this.renamed(event)
      case 'member.joined': return this.membersJoined(event)
      case 'member.left': return this.membersLeft(event)
      case 'group.invitationReceived': return this.invited(event)
      default: return undefined
    }
  }

  /** Stores a member seen for the first time through a message (joined while the bot was away). */
  async rememberMember(groupId: string, member: MemberSnapshot): Promise<void> {
    const repo = this.deps.db.getRepository(MemberEntity)
    await repo.upsert({ groupId, memberId: member.id, name: member.name, role: member.role ?? 'member', joinedAt: null, inviterId: null, active: true, leftAt: null }, ['groupId', 'memberId'])
    this.deps.directory.putMember(groupId, CachedGroupDirectory.fromSnapshot(member, null))
  }

  private async synced(e: EventOf<'group.synced'>): Promise<void> {
    await withTransaction(this.deps.db, async (m) => {
      const groups = m.getRepository(GroupEntity)
      const existing = await groups.findOneBy({ id: e.groupId })
      const row: GroupEntity = {
        id: e.groupId, botId: e.botId, name: e.name, ownerId: e.ownerId ?? existing?.ownerId ?? null,
        timezone: existing?.timezone ?? this.deps.config.timezone, labels: existing?.labels ?? [],
        memberCount: e.members.length, active: true, joinedAt: existing?.joinedAt ?? e.at, leftAt: null, updatedAt: e.at,
      }
      // Copies: TypeORM writes values back into the objects it is given (on MySQL, in the wrong order for
      // multi-row upserts), and these objects feed the directory cache below.
      await groups.save({ ...row })
      if (existing && existing.name !== e.name) {
        await m.getRepository(GroupEventEntity).insert({ groupId: e.groupId, kind: 'renamed', memberId: null, actorId: null, detail: { from: existing.name, to: e.name }, at: e.at })
      }
      const members = m.getRepository(MemberEntity)
      const stored = new Map((await members.findBy({ groupId: e.groupId })).map((r) => [r.memberId, r]))
      const present = new Set<string>()
      const upserts: MemberEntity[] = []
      for (const s of e.members) {
        present.add(s.id)
        const old = stored.get(s.id)
        const role = s.id === e.ownerId ? 'owner' : e.adminIds.includes(s.id) ? 'admin' : (s.role ?? 'member')
        if (old && old.active && old.name === s.name && old.role === role) continue
        upserts.push({ groupId: e.groupId, memberId: s.id, name: s.name, role, joinedAt: old?.active ? old.joinedAt : null, inviterId: old?.inviterId ?? null, active: true, leftAt: null })
      }
      // Members who left while the bot was not looking.
      const departed = [...stored.values()].filter((r) => r.active && !present.has(r.memberId))
      for (const r of departed) upserts.push({ ...r, active: false, leftAt: e.at })
      // upsert, not save: save() reads every row first, which makes a 300-member sync 300 round trips.
      for (let i = 0; i < upserts.length; i += 200) await members.upsert(upserts.slice(i, i + 200).map((u) => ({ ...u })), ['groupId', 'memberId'])
      this.deps.directory.putGroup(toGroupInfo(row))
      for (const u of upserts) {
        if (u.active) this.deps.directory.putMember(e.groupId, { id: u.memberId, name: u.name, role: u.role as MemberSnapshot['role'] & string, joinedAt: u.joinedAt, known: true })
        else this.deps.directory.dropMember(e.groupId, u.memberId)
      }
    })
    this.deps.log.info('group synced', { bot: e.botId, group: e.groupId, members: e.members.length })
  }

  private async botJoined(e: EventOf<'group.joined'>): Promise<void> {
    const groups = this.deps.db.getRepository(GroupEntity)
    const existing = await groups.findOneBy({ id: e.groupId })
    const row: GroupEntity = {
      id: e.groupId, botId: e.botId, name: e.name, ownerId: existing?.ownerId ?? null, timezone: existing?.timezone ?? this.deps.config.timezone,
      labels: existing?.labels ?? [], memberCount: existing?.memberCount ?? 0, active: true, joinedAt: e.at, leftAt: null, updatedAt: e.at,
    }
    await groups.save({ ...row })
    await this.deps.db.getRepository(GroupEventEntity).insert({ groupId: e.groupId, kind: 'bot_joined', memberId: null, actorId: e.inviterId ?? null, detail: null, at: e.at })
    this.deps.directory.putGroup(toGroupInfo(row))
    this.deps.log.info('bot added to group', { bot: e.botId, group: e.groupId })
  }

  private async botLeft(e: EventOf<'group.left'>): Promise<void> {
    await this.deps.db.getRepository(GroupEntity).update({ id: e.groupId }, { active: false, leftAt: e.at, updatedAt: e.at })
    await this.deps.db.getRepository(GroupEventEntity).insert({ groupId: e.groupId, kind: 'bot_left', memberId: null, actorId: e.removerId ?? null, detail: null, at: e.at })
    this.deps.log.warn('bot removed from group', { bot: e.botId, group: e.groupId })
  }

  private async renamed(e: EventOf<'group.renamed'>): Promise<void> {
    await this.deps.db.getRepository(GroupEntity).update({ id: e.groupId }, { name: e.newName, updatedAt: e.at })
    await this.deps.db.getRepository(GroupEventEntity).insert({ groupId: e.groupId, kind: 'renamed', memberId: null, actorId: e.changerId ?? null, detail: { from: e.oldName, to: e.newName }, at: e.at })
    const cached = this.deps.directory.cachedGroup(e.groupId)
    if (cached) this.deps.directory.putGroup({ ...cached, name: e.newName })
  }

  private async membersJoined(e: EventOf<'member.joined'>): Promise<void> {
    await withTransaction(this.deps.db, async (m) => {
      const rows: MemberEntity[] = e.members.map((s) => ({
        groupId: e.groupId, memberId: s.id, name: s.name, role: s.role ?? 'member', joinedAt: e.at, inviterId: e.inviterId ?? null, active: true, leftAt: null,
      }))
      await m.getRepository(MemberEntity).upsert(rows, ['groupId', 'memberId'])
      await m.getRepository(GroupEventEntity).insert(e.members.map((s) => ({ groupId: e.groupId, kind: 'joined', memberId: s.id, actorId: e.inviterId ?? null, detail: null, at: e.at })))
      await m.getRepository(GroupEntity).increment({ id: e.groupId }, 'memberCount', e.members.length)
    })
    for (const s of e.members) this.deps.directory.putMember(e.groupId, CachedGroupDirectory.fromSnapshot(s, e.at))
  }

  private async membersLeft(e: EventOf<'member.left'>): Promise<void> {
    await withTransaction(this.deps.db, async (m) => {
      for (const id of e.memberIds) await m.getRepository(MemberEntity).update({ groupId: e.groupId, memberId: id }, { active: false, leftAt: e.at })
      await m.getRepository(GroupEventEntity).insert(e.memberIds.map((id) => ({ groupId: e.groupId, kind: 'left', memberId: id, actorId: e.removerId ?? null, detail: null, at: e.at })))
      await m.getRepository(GroupEntity).decrement({ id: e.groupId }, 'memberCount', e.memberIds.length)
    })
    for (const id of e.memberIds) this.deps.directory.dropMember(e.groupId, id)
  }

  private async invited(e: EventOf<'group.invitationReceived'>): Promise<void> {
    const { acceptInvitations, inviterAllowlist } = this.deps.config.groups
    const allowed = acceptInvitations && (inviterAllowlist.length === 0 || inviterAllowlist.includes(e.inviterId) || inviterAllowlist.includes(e.inviterName))
    await this.deps.db.getRepository(GroupEventEntity).insert({
      groupId: null, kind: allowed ? 'invitation_accepted' : 'invitation_declined', memberId: null, actorId: e.inviterId, detail: { topic: e.topic, invitation: e.invitationId }, at: e.at,
    })
    if (allowed) this.deps.outbound.enqueue({ kind: 'acceptInvitation', botId: e.botId, invitationId: e.invitationId })
    this.deps.log.info(allowed ? 'room invitation accepted' : 'room invitation ignored (inviter not allowed)', { bot: e.botId, inviter: e.inviterId })
  }
}
