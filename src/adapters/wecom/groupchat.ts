import type { MemberRole, MemberSnapshot } from '../../kernel/events'
import type { WecomApi } from './api'

/** A customer group as groupchat/get returns it (the fields we use). */
export interface GroupChat {
  chat_id: string
  name: string
  owner: string
  notice?: string
  member_list: Array<{ userid: string; type: number; join_time?: number; join_scene?: number; invitor?: { userid?: string }; name?: string; group_nickname?: string }>
  admin_list?: Array<{ userid: string }>
}

/** How a member came in, in words (from groupchat/get's join_scene or the callback's JoinScene). */
export type JoinScene = 'invited' | 'link' | 'qrcode' | 'unknown'

/** groupchat/get's join_scene: 1 invited directly, 2 through an invitation link, 3 by scanning the group QR code. */
export function sceneOfMember(code: number | undefined): JoinScene {
  return code === 1 ? 'invited' : code === 2 ? 'link' : code === 3 ? 'qrcode' : 'unknown'
}

/** The callback's JoinScene: 0 invited directly, 1 through an invitation link, 3 by scanning the group QR code. */
export function sceneOfCallback(code: string): JoinScene {
  return code === '0' ? 'invited' : code === '1' ? 'link' : code === '3' ? 'qrcode' : 'unknown'
}

/** A member's role in the group. */
export function roleIn(chat: GroupChat, userid: string): MemberRole {
  if (chat.owner === userid) return 'owner'
  return (chat.admin_list ?? []).some((a) => a.userid === userid) ? 'admin' : 'member'
}

/** Member snapshots of a group (staff and customers alike; ids are userid / external_userid). */
export function snapshots(chat: GroupChat): MemberSnapshot[] {
  return chat.member_list.map((m) => ({ id: m.userid, name: m.group_nickname || m.name || m.userid, role: roleIn(chat, m.userid) }))
}

/** groupchat/get: one customer group with its members (names included). */
export async function getGroupChat(api: WecomApi, chatId: string): Promise<GroupChat> {
  const answer = await api.call<{ group_chat: GroupChat }>('POST', '/cgi-bin/externalcontact/groupchat/get', { chat_id: chatId, need_name: 1 })
  return answer.group_chat
}

/** groupchat/list, every page: the ids of every customer group the app can see. */
export async function listGroupChats(api: WecomApi, pageSize = 1000): Promise<string[]> {
  const ids: string[] = []
  let cursor = ''
  for (let page = 0; page < 10_000; page++) {
    const answer = await api.call<{ group_chat_list?: Array<{ chat_id: string }>; next_cursor?: string }>(
      'POST', '/cgi-bin/externalcontact/groupchat/list', { status_filter: 0, cursor: cursor || undefined, limit: pageSize },
    )
    for (const g of answer.group_chat_list ?? []) ids.push(g.chat_id)
    cursor = answer.next_cursor ?? ''
    if (!cursor) return ids
  }
  throw new Error('groupchat/list did not end after 10000 pages')
}
