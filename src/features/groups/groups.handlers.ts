import type { FeatureStore } from '../../adapters/db/feature-store'
import {
  GroupJoined, GroupLeft, GroupRenamed, GroupSynced, InvitationReceived, MemberJoined, MemberLeft,
  type EventBase, type EventOfKind, type MemberSnapshot,
} from '../../kernel/events'
import type { Logger } from '../../kernel/logger'
import type { Outbound } from '../../kernel/outbound-service'
import type { Clock } from '../../ports/clock'
import type { GroupsConfig } from './groups.config'
import { CachedGroupDirectory, toGroupInfo } from './groups.directory'
import { GroupEntity, GroupEventEntity, MemberEntity } from './groups.entity'

/**
 * Keeps the group registry current from platform events: groups synced at login, the bot added or
 * removed, renames, member joins and leaves (with time and inviter), and room invitations (accepted
 * when the inviter is allowed).
 */
export class GroupsRecorder {
  constructor(private readonly deps: {
    store: FeatureStore
    directory: CachedGroupDirectory
    outbound: Outbound
    clock: Clock
    log: Logger
    config: GroupsConfig
  }) {}

  /** Applies one domain event. */
  async handle(event: EventBase): Promise<void> {
    if (GroupSynced.is(event)) return this.synced(event)
    if (GroupJoined.is(event)) return this.botJoined(event)
    if (GroupLeft.is(event)) return this.botLeft(event)
    if (GroupRenamed.is(event)) return this.renamed(event)
    if (MemberJoined.is(event)) return this.membersJoined(event)
    if (MemberLeft.is(event)) return this.membersLeft(event)
    if (InvitationReceived.is(event)) return this.invited(event)
    return undefined
  }

  /** Stores a member seen for the first time through a message (joined while the bot was away). */
  async rememberMember(groupId: string, member: MemberSnapshot): Promise<void> {
    const repo = this.deps.store.repo(MemberEntity)
    await repo.upsert({ groupId, memberId: member.id, name: member.name, role: member.role ?? 'member', joinedAt: null, inviterId: null, active: true, leftAt: null }, ['groupId', 'memberId'])
    this.deps.directory.putMember(groupId, CachedGroupDirectory.fromSnapshot(member, null))
  }

  private async synced(e: EventOfKind<typeof GroupSynced>): Promise<void> {
    await this.deps.store.transaction(async (m) => {
      const groups = m.repo(GroupEntity)
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
        await m.repo(GroupEventEntity).insert({ groupId: e.groupId, kind: 'renamed', memberId: null, actorId: null, detail: { from: existing.name, to: e.name }, at: e.at })
      }
      const members = m.repo(MemberEntity)
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

  private async botJoined(e: EventOfKind<typeof GroupJoined>): Promise<void> {
    const groups = this.deps.store.repo(GroupEntity)
    const existing = await groups.findOneBy({ id: e.groupId })
    const row: GroupEntity = {
      id: e.groupId, botId: e.botId, name: e.name, ownerId: existing?.ownerId ?? null, timezone: existing?.timezone ?? this.deps.config.timezone,
      labels: existing?.labels ?? [], memberCount: existing?.memberCount ?? 0, active: true, joinedAt: e.at, leftAt: null, updatedAt: e.at,
    }
    await groups.save({ ...row })
    await this.deps.store.repo(GroupEventEntity).insert({ groupId: e.groupId, kind: 'bot_joined', memberId: null, actorId: e.inviterId ?? null, detail: null, at: e.at })
    this.deps.directory.putGroup(toGroupInfo(row))
    this.deps.log.info('bot added to group', { bot: e.botId, group: e.groupId })
  }

  private async botLeft(e: EventOfKind<typeof GroupLeft>): Promise<void> {
    await this.deps.store.repo(GroupEntity).update({ id: e.groupId }, { active: false, leftAt: e.at, updatedAt: e.at })
    await this.deps.store.repo(GroupEventEntity).insert({ groupId: e.groupId, kind: 'bot_left', memberId: null, actorId: e.removerId ?? null, detail: null, at: e.at })
    this.deps.log.warn('bot removed from group', { bot: e.botId, group: e.groupId })
  }

  private async renamed(e: EventOfKind<typeof GroupRenamed>): Promise<void> {
    await this.deps.store.repo(GroupEntity).update({ id: e.groupId }, { name: e.newName, updatedAt: e.at })
    await this.deps.store.repo(GroupEventEntity).insert({ groupId: e.groupId, kind: 'renamed', memberId: null, actorId: e.changerId ?? null, detail: { from: e.oldName, to: e.newName }, at: e.at })
    const cached = this.deps.directory.cachedGroup(e.groupId)
    if (cached) this.deps.directory.putGroup({ ...cached, name: e.newName })
  }

  private async membersJoined(e: EventOfKind<typeof MemberJoined>): Promise<void> {
    await this.deps.store.transaction(async (m) => {
      const rows: MemberEntity[] = e.members.map((s) => ({
        groupId: e.groupId, memberId: s.id, name: s.name, role: s.role ?? 'member', joinedAt: e.at, inviterId: e.inviterId ?? null, active: true, leftAt: null,
      }))
      await m.repo(MemberEntity).upsert(rows, ['groupId', 'memberId'])
      await m.repo(GroupEventEntity).insert(e.members.map((s) => ({ groupId: e.groupId, kind: 'joined', memberId: s.id, actorId: e.inviterId ?? null, detail: null, at: e.at })))
      await m.repo(GroupEntity).increment({ id: e.groupId }, 'memberCount', e.members.length)
    })
    for (const s of e.members) this.deps.directory.putMember(e.groupId, CachedGroupDirectory.fromSnapshot(s, e.at))
  }

  private async membersLeft(e: EventOfKind<typeof MemberLeft>): Promise<void> {
    await this.deps.store.transaction(async (m) => {
      for (const id of e.memberIds) await m.repo(MemberEntity).update({ groupId: e.groupId, memberId: id }, { active: false, leftAt: e.at })
      await m.repo(GroupEventEntity).insert(e.memberIds.map((id) => ({ groupId: e.groupId, kind: 'left', memberId: id, actorId: e.removerId ?? null, detail: e.scene ? { scene: e.scene } : null, at: e.at })))
      await m.repo(GroupEntity).decrement({ id: e.groupId }, 'memberCount', e.memberIds.length)
    })
    for (const id of e.memberIds) this.deps.directory.dropMember(e.groupId, id)
  }

  private async invited(e: EventOfKind<typeof InvitationReceived>): Promise<void> {
    const { acceptInvitations, inviterAllowlist } = this.deps.config
    const allowed = acceptInvitations && (inviterAllowlist.length === 0 || inviterAllowlist.includes(e.inviterId) || inviterAllowlist.includes(e.inviterName))
    await this.deps.store.repo(GroupEventEntity).insert({
      groupId: null, kind: allowed ? 'invitation_accepted' : 'invitation_declined', memberId: null, actorId: e.inviterId, detail: { topic: e.topic, invitation: e.invitationId }, at: e.at,
    })
    if (allowed) this.deps.outbound.acceptInvitation(e.botId, e.invitationId, { cause: e.id, note: 'invitation accepted' })
    this.deps.log.info(allowed ? 'room invitation accepted' : 'room invitation ignored (inviter not allowed)', { bot: e.botId, inviter: e.inviterId })
  }
}
