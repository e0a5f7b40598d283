import {
  GroupLeft, GroupRenamed, GroupSynced, MemberJoined, MemberLeft, type ChannelEvent,
} from '../../kernel/events'
import { getGroupChat, roleIn, sceneOfCallback, sceneOfMember, snapshots, type GroupChat } from './groupchat'
import type { WecomApi } from './api'
import { field, list, type XmlValue } from './xml'

/** What turning a callback into events needs besides the API. */
export interface EventContext {
  botId: string
  api: WecomApi
  /** The group's name as the directory knows it (for renames). */
  groupName(groupId: string): Promise<string | null>
}

/** The group's current state as a group.synced event. */
export function syncedEvent(botId: string, chat: GroupChat, id: string, at: number): ChannelEvent {
  return GroupSynced.of({
    id, at, botId, groupId: chat.chat_id, name: chat.name, ownerId: chat.owner,
    adminIds: (chat.admin_list ?? []).map((a) => a.userid), members: snapshots(chat),
  })
}

/**
 * Turns one decrypted callback into the channel events the groups feature already consumes:
 * change_external_chat create → group.synced; update add_member → member.joined (per inviter and join
 * scene, with names from groupchat/get), del_member → member.left, change_name → group.renamed,
 * change_owner / change_notice → group.synced (the new owner; notices have no event of their own);
 * dismiss → group.left. Other events are ignored (returned empty). Ids derive from the callback, so a
 * callback processed twice yields the same ids.
 */
export async function eventsOf(xml: Record<string, XmlValue>, ctx: EventContext): Promise<ChannelEvent[]> {
  if (field(xml, 'Event') !== 'change_external_chat') return []
  const { botId, api } = ctx
  const groupId = field(xml, 'ChatId')
  if (!groupId) return []
  const change = field(xml, 'ChangeType')
  const detail = field(xml, 'UpdateDetail')
  const created = Number(field(xml, 'CreateTime'))
  const at = Number.isFinite(created) && created > 0 ? created * 1000 : Date.now()
  const id = `wecom:${groupId}:${change}:${detail || '-'}:${field(xml, 'CreateTime')}:${field(xml, 'CurMemVer') || '-'}`
  switch (change) {
    case 'create': return [syncedEvent(botId, await getGroupChat(api, groupId), id, at)]
    case 'dismiss': return [GroupLeft.of({ id, at, botId, groupId })]
    case 'update': break
    default: return []
  }
  switch (detail) {
    case 'add_member': {
      const chat = await getGroupChat(api, groupId)
      const changed = list(xml, 'MemChangeList')
      // Without a change list (older callbacks) every member is in the sync that follows.
      if (changed.length === 0) return [syncedEvent(botId, chat, id, at)]
      const callbackScene = sceneOfCallback(field(xml, 'JoinScene'))
      const byCause = new Map<string, { inviterId?: string; scene: string; ids: string[] }>()
      for (const memberId of changed) {
        const m = chat.member_list.find((x) => x.userid === memberId)
        const inviterId = m?.invitor?.userid || undefined
        const scene = m ? sceneOfMember(m.join_scene) : callbackScene
        const key = `${inviterId ?? ''}|${scene}`
        const entry = byCause.get(key) ?? { inviterId, scene, ids: [] }
        entry.ids.push(memberId)
        byCause.set(key, entry)
      }
      return [...byCause.values()].map((c, i) => MemberJoined.of({
        id: `${id}#${i}`, at, botId, groupId, inviterId: c.inviterId, scene: c.scene,
        members: c.ids.map((memberId) => {
          const m = chat.member_list.find((x) => x.userid === memberId)
          return { id: memberId, name: m?.group_nickname || m?.name || memberId, role: roleIn(chat, memberId) }
        }),
      }))
    }
    case 'del_member': {
      const memberIds = list(xml, 'MemChangeList')
      if (memberIds.length === 0) return [syncedEvent(botId, await getGroupChat(api, groupId), id, at)]
      // QuitScene 0: left on their own; 1: removed by the owner or an admin (the callback does not say which one).
      const quit = field(xml, 'QuitScene')
      const scene = quit === '0' ? 'left' : quit === '1' ? 'removed' : undefined
      return [MemberLeft.of({ id, at, botId, groupId, memberIds, scene })]
    }
    case 'change_name': {
      const chat = await getGroupChat(api, groupId)
      const oldName = (await ctx.groupName(groupId)) ?? ''
      return [GroupRenamed.of({ id, at, botId, groupId, oldName, newName: chat.name })]
    }
    case 'change_owner': case 'change_notice':
      return [syncedEvent(botId, await getGroupChat(api, groupId), id, at)]
    default: return []
  }
}
