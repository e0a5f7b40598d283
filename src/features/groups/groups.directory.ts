import { In } from 'typeorm'
import type { FeatureTables } from '../../adapters/db/feature-store'
import type { GroupInfo, GroupRecord, MemberInfo } from '../../kernel/context'
import type { MemberRole, MemberSnapshot } from '../../kernel/events'
import type { GroupDirectory, MemberRecord } from '../../kernel/directory'
import { GroupEntity, MemberEntity } from './groups.entity'


/** Reads a stored member row into MemberInfo. */
function toMember(row: MemberEntity): MemberInfo {
  return { id: row.memberId, name: row.name, role: row.role as MemberRole, joinedAt: row.joinedAt, known: true }
}

/** Reads a stored group row into GroupInfo. */
export function toGroupInfo(row: GroupEntity): GroupInfo {
  return { id: row.id, botId: row.botId, name: row.name, timezone: row.timezone, ownerId: row.ownerId, labels: row.labels ?? [] }
}

/**
 * Cached directory of groups and members for the message path: a Map hit per message; the database
 * only on a miss. Members loaded per group in one query on the group's first message.
 */
export class CachedGroupDirectory implements GroupDirectory {
  private readonly groups = new Map<string, GroupInfo>()
  private readonly memberCache = new Map<string, Map<string, MemberInfo>>()
  private readonly loadedMembers = new Map<string, Promise<void>>()
  private readonly loadingGroups = new Map<string, Promise<GroupInfo>>()

  constructor(private readonly db: FeatureTables, private readonly defaultTimezone: string) {}

  group(groupId: string, botId: string): GroupInfo | Promise<GroupInfo> {
    const hit = this.groups.get(groupId)
    if (hit) return hit
    let loading = this.loadingGroups.get(groupId)
    if (!loading) {
      loading = this.loadGroup(groupId, botId).finally(() => this.loadingGroups.delete(groupId))
      this.loadingGroups.set(groupId, loading)
    }
    return loading
  }

  member(groupId: string, memberId: string, name: string): MemberInfo | Promise<MemberInfo> {
    // Nested maps: no key string built per message on the hot path.
    const hit = this.memberCache.get(groupId)?.get(memberId)
    if (hit) return hit
    return this.loadMembers(groupId).then(() => {
      const found = this.memberCache.get(groupId)?.get(memberId)
      if (found) return found
      // Not seen before (e.g. joined while the bot was offline): known=false until the groups feature stores them.
      const fresh: MemberInfo = { id: memberId, name, role: 'member', joinedAt: null, known: false }
      this.groupMembers(groupId).set(memberId, fresh)
      return fresh
    })
  }

  async find(groupId: string): Promise<GroupRecord | null> {
    const row = await this.db.repo(GroupEntity).findOneBy({ id: groupId })
    return row ? { ...toGroupInfo(row), memberCount: row.memberCount, active: row.active } : null
  }

  async activeGroups(): Promise<GroupRecord[]> {
    const rows = await this.db.repo(GroupEntity).find({ where: { active: true }, order: { id: 'ASC' } })
    return rows.map((row) => ({ ...toGroupInfo(row), memberCount: row.memberCount, active: row.active }))
  }

  async members(groupId: string, opts: { ids?: readonly string[]; includeLeft?: boolean } = {}): Promise<MemberRecord[]> {
    if (opts.ids && opts.ids.length === 0) return []
    const where: { groupId: string; active?: boolean; memberId?: ReturnType<typeof In<string>> } = { groupId }
    if (!opts.includeLeft) where.active = true
    if (opts.ids) where.memberId = In([...opts.ids])
    const rows = await this.db.repo(MemberEntity).find({ where, order: { memberId: 'ASC' } })
    return rows.map((row) => ({ ...toMember(row), groupId: row.groupId, inviterId: row.inviterId, active: row.active, leftAt: row.leftAt }))
  }

  /** Replaces the cached group (after the groups feature wrote it). */
  putGroup(info: GroupInfo): void { this.groups.set(info.id, info) }

  /** Replaces cached members (after the groups feature wrote them). */
  putMember(groupId: string, info: MemberInfo): void { this.groupMembers(groupId).set(info.id, info) }

  /** Drops a cached group so the next message reloads it. */
  forgetGroup(groupId: string): void { this.groups.delete(groupId) }

  /** Erasure: drops a member from the cache of every group (or of `groupIds`); returns how many entries. */
  eraseMember(memberId: string, groupIds: readonly string[] | undefined, dryRun: boolean): number {
    let n = 0
    for (const [groupId, members] of this.memberCache) {
      if (groupIds !== undefined && !groupIds.includes(groupId)) continue
      if (!members.has(memberId)) continue
      n++
      if (!dryRun) members.delete(memberId)
    }
    return n
  }

  /** Drops a member from the cache (left the group). */
  dropMember(groupId: string, memberId: string): void { this.memberCache.get(groupId)?.delete(memberId) }

  private groupMembers(groupId: string): Map<string, MemberInfo> {
    let map = this.memberCache.get(groupId)
    if (!map) this.memberCache.set(groupId, (map = new Map()))
    return map
  }

  /** Cached group, if any (no I/O). */
  cachedGroup(groupId: string): GroupInfo | undefined { return this.groups.get(groupId) }

  /** Builds a MemberInfo from a platform snapshot. */
  static fromSnapshot(s: MemberSnapshot, joinedAt: number | null): MemberInfo {
    return { id: s.id, name: s.name, role: s.role ?? 'member', joinedAt, known: true }
  }

  private async loadGroup(groupId: string, botId: string): Promise<GroupInfo> {
    const row = await this.db.repo(GroupEntity).findOneBy({ id: groupId })
    const info: GroupInfo = row
      ? toGroupInfo(row)
      // A message from a group not synced yet: a provisional entry; group.synced fills it in.
      : { id: groupId, botId, name: '', timezone: this.defaultTimezone, ownerId: null, labels: [] }
    if (!this.groups.has(groupId)) this.groups.set(groupId, info)
    return this.groups.get(groupId) as GroupInfo
  }

  private loadMembers(groupId: string): Promise<void> {
    let loading = this.loadedMembers.get(groupId)
    if (!loading) {
      loading = this.db.repo(MemberEntity).find({ where: { groupId, active: true } }).then((rows) => {
        for (const row of rows) {
          const members = this.groupMembers(groupId)
          if (!members.has(row.memberId)) members.set(row.memberId, toMember(row))
        }
      })
      loading.catch(() => this.loadedMembers.delete(groupId))
      this.loadedMembers.set(groupId, loading)
    }
    return loading
  }

  /** Loads specific members (used when a sync needs current rows). */
  async storedMembers(groupId: string, ids: string[]): Promise<Map<string, MemberEntity>> {
    if (ids.length === 0) return new Map()
    const rows = await this.db.repo(MemberEntity).findBy({ groupId, memberId: In(ids) })
    return new Map(rows.map((r) => [r.memberId, r]))
  }
}
