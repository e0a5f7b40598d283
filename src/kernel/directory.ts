import type { GroupInfo, GroupRecord, MemberInfo } from './context'
import { serviceKey } from './feature'

/** A stored member as jobs and routes need them. */
export interface MemberRecord extends MemberInfo {
  groupId: string
  inviterId: string | null
  active: boolean
  leftAt: number | null
}

/**
 * The directory of groups and members: the message path reads it (cached, a Map hit per message), jobs
 * and routes ask it for stored facts. The groups feature owns the tables and provides it; nobody else
 * reads those tables.
 */
export interface GroupDirectory {
  /** The group of a message (cached; a provisional entry for a group not synced yet). */
  group(groupId: string, botId: string): GroupInfo | Promise<GroupInfo>
  /** The sender inside the group (cached; `known: false` the first time the directory sees them). */
  member(groupId: string, memberId: string, name: string): MemberInfo | Promise<MemberInfo>
  /** The stored group, or null when unknown (fresh read). */
  find(groupId: string): Promise<GroupRecord | null>
  /** Every group the bots are in now. */
  activeGroups(): Promise<GroupRecord[]>
  /** Stored members of a group (active ones unless `includeLeft`), or some of them by id. */
  members(groupId: string, opts?: { ids?: readonly string[]; includeLeft?: boolean }): Promise<MemberRecord[]>
}

/** The directory service (provided by the groups feature; the kernel's message path needs it too). */
export const DIRECTORY = serviceKey<GroupDirectory>('directory')

/** Sections other features add to a group's detail view. */
export interface GroupSummaries {
  /** Every feature's section for one group, merged. */
  of(group: GroupInfo): Promise<Record<string, unknown>>
}

/** The group-summary service (provided by the kernel from every feature's `summary`). */
export const GROUP_SUMMARIES = serviceKey<GroupSummaries>('group-summaries')
