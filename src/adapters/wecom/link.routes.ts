import { z } from 'zod'
import type { GroupRecord } from '../../kernel/context'
import { GroupLeft, type EventBase } from '../../kernel/events'
import { defineRoute, GroupParams, groupNotFound, HttpError, type RouteDefinition } from '../../kernel/routes'
import type { Clock } from '../../ports/clock'
import type { GroupLink, WecomStore } from './store'

/** Body of PUT /api/v1/groups/:id/wecom-link: the WeCom customer-group chat id of this (puppet) group. */
export const WecomLinkBody = z.strictObject({
  chatId: z.string().regex(/^[A-Za-z0-9_-]{1,191}$/, 'a WeCom customer-group chat id (letters, digits, _ and -)'),
})

/** A group's link as the API shows it. */
const WecomLinkView = z.object({
  groupId: z.string(),
  chatId: z.string().nullable(),
  source: z.enum(['auto', 'manual']).nullable(),
  linkedAt: z.string().nullable(),
})

/** What the link routes need. */
export interface WecomLinkRouteDeps {
  /** Bots running channel both. */
  pairedBots: ReadonlySet<string>
  store: WecomStore
  find(groupId: string): Promise<GroupRecord | null>
  /** Whether the bot's app sees this customer group (groupchat/get). */
  chatExists(botId: string, chatId: string): Promise<'yes' | 'no' | 'unavailable'>
  /** Delivers an event (the chat's own directory entry retired once linked). */
  publish(event: EventBase): Promise<void>
  clock: Clock
}

function view(groupId: string, link: GroupLink | undefined): z.infer<typeof WecomLinkView> {
  return { groupId, chatId: link?.chatId ?? null, source: link?.source ?? null, linkedAt: link ? new Date(link.linkedAt).toISOString() : null }
}

/**
 * Admin routes of channel both: which WeCom chat id a puppet group is (read, set, remove). Owners fix a
 * link for their own groups; a chat already serving a group the caller may not see is refused without
 * naming it; every change is audited.
 */
export function wecomLinkRoutes(deps: WecomLinkRouteDeps): RouteDefinition[] {
  const pairedGroup = async (id: string): Promise<GroupRecord> => {
    const group = await deps.find(id)
    if (!group) throw groupNotFound()
    if (!deps.pairedBots.has(group.botId)) throw new HttpError(400, 'not_paired', 'this group\'s bot does not run channel both (puppet + official API)')
    return group
  }
  return [
    defineRoute({
      method: 'GET', path: '/api/v1/groups/:id/wecom-link', summary: 'channel both: the WeCom chat id linked to this group',
      params: GroupParams, access: { roles: ['admin', 'owner', 'operator'], groupParam: 'id', mutates: false }, response: WecomLinkView,
      async handler({ params }) {
        const group = await pairedGroup(params.id)
        return view(group.id, (await deps.store.links(group.botId)).find((l) => l.roomId === group.id))
      },
    }),
    defineRoute({
      method: 'PUT', path: '/api/v1/groups/:id/wecom-link', summary: 'channel both: link this group to its WeCom customer-group chat id (fixes or overrides an automatic match)',
      params: GroupParams, body: WecomLinkBody, access: { roles: ['admin', 'owner'], groupParam: 'id', mutates: true }, response: WecomLinkView,
      async handler({ params, body, auth, audit }) {
        const group = await pairedGroup(params.id)
        if (body.chatId === group.id) throw new HttpError(400, 'invalid_link', 'a group cannot be linked to itself', [{ path: 'body.chatId', message: 'same as the group id' }])
        const links = await deps.store.links(group.botId)
        const before = links.find((l) => l.roomId === group.id)
        const current = links.find((l) => l.chatId === body.chatId)
        // The chat must not serve a group outside the caller's scope (its own directory entry, or another linked group).
        const chatGroup = await deps.find(body.chatId)
        const elsewhere = [current && current.roomId !== group.id ? current.roomId : null, chatGroup?.active && chatGroup.botId === group.botId ? chatGroup.id : null]
        if (auth && !auth.scope.all && elsewhere.some((id) => id !== null && !auth.scope.has(id))) {
          throw new HttpError(409, 'chat_unavailable', 'this chat id cannot be linked to this group')
        }
        if (chatGroup && chatGroup.botId !== group.botId) throw new HttpError(409, 'chat_unavailable', 'this chat id cannot be linked to this group')
        const exists = await deps.chatExists(group.botId, body.chatId)
        if (exists === 'unavailable') throw new HttpError(503, 'wecom_unavailable', 'WeCom could not be asked about this chat id; try again')
        if (exists === 'no') throw new HttpError(400, 'unknown_chat', 'the bot\'s WeCom app sees no customer group with this chat id', [{ path: 'body.chatId', message: 'unknown chat id' }])
        const link: GroupLink = { chatId: body.chatId, roomId: group.id, source: 'manual', linkedBy: auth?.tokenId ?? null, linkedAt: deps.clock.now() }
        await deps.store.link(group.botId, link)
        // The chat's own directory entry (made before the link) retires: the group shows once.
        if (chatGroup?.active) await deps.publish(GroupLeft.of({ id: `wecom:linked:${body.chatId}:${link.linkedAt}`, at: link.linkedAt, botId: group.botId, groupId: body.chatId }))
        audit({ groupId: group.id, target: 'wecom-link', before: before ? { chatId: before.chatId, source: before.source } : null, after: { chatId: body.chatId, source: 'manual' } })
        return view(group.id, link)
      },
    }),
    defineRoute({
      method: 'DELETE', path: '/api/v1/groups/:id/wecom-link', summary: 'channel both: remove this group\'s link (WeCom events for the chat then stay under the chat id)',
      params: GroupParams, access: { roles: ['admin', 'owner'], groupParam: 'id', mutates: true }, response: WecomLinkView,
      async handler({ params, audit }) {
        const group = await pairedGroup(params.id)
        const before = (await deps.store.links(group.botId)).find((l) => l.roomId === group.id)
        if (!before) throw new HttpError(404, 'not_found', 'this group has no WeCom link')
        await deps.store.unlink(group.botId, before.chatId)
        audit({ groupId: group.id, target: 'wecom-link', before: { chatId: before.chatId, source: before.source }, after: null })
        return view(group.id, undefined)
      },
    }),
  ]
}
