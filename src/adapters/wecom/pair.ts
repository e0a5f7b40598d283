import { createHash } from 'node:crypto'
import type { ActionKind, Channel, ChannelSink } from '../../kernel/channel'
import type { GroupRecord, OutboundAction } from '../../kernel/context'
import type { MemberRecord } from '../../kernel/directory'
import {
  BotLoggedIn, BotLoggedOut, GroupLeft, GroupRenamed, GroupSynced, MemberJoined, MemberLeft,
  type ChannelEvent, type EventOfKind, type MemberSnapshot,
} from '../../kernel/events'
import { errorText, type Logger } from '../../kernel/logger'
import type { Clock } from '../../ports/clock'
import type { Dedupe } from '../../ports/ports'
import type { WecomChannel } from './channel'
import type { GroupLink, WecomStore } from './store'

/** The links the pairing reads and writes (WecomStore in the runtime). */
export type LinkStore = Pick<WecomStore, 'links' | 'linkBy' | 'link' | 'memberLinks' | 'linkMembers'>

/** What the pairing needs besides its two channels. */
export interface PairingDeps {
  store: LinkStore
  /** Join/leave marks shared by every replica (coordination port). */
  dedupe: Dedupe
  clock: Clock
  log: Logger
  /** The directory (groups feature): the bot's groups, a group's members. */
  directory: {
    activeGroups(): Promise<GroupRecord[]>
    find(groupId: string): Promise<GroupRecord | null>
    members(groupId: string, opts?: { includeLeft?: boolean }): Promise<MemberRecord[]>
  }
  /** How long a join or leave seen on one side hides the same one from the other (default 10 min). */
  windowMs?: number
}

const hash = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 24)

/**
 * A bot running the puppet and the official API together (channel `both`). The puppet's room id is the
 * group's id everywhere (messages only come through the puppet); the official side's events are
 * translated: chat id → room id through a stored link (matched automatically when exactly one of the
 * bot's groups has the same name and member count (WeCom's count may include the bot's own account), or set by an owner through the admin API), and
 * official member ids → puppet ids through stored member links (learned when exactly one member of the
 * room carries the name WeCom reports). A join or leave seen on both sides is delivered once (marks in
 * the coordination port, by member id and by name). Actions go to the puppet, except corp tags (mapped
 * tags go to the official API) and robot messages while the puppet is offline. The bot counts as logged
 * in while either side is, so its outbound lanes pause only when both are down.
 */
export class PairedChannel implements Channel {
  readonly kind = 'wechaty+wecom'
  readonly capabilities: ReadonlySet<ActionKind>
  private readonly up = new Set<string>()

  constructor(private readonly puppet: Channel, readonly official: WecomChannel, private readonly deps: PairingDeps) {
    if (puppet.botId !== official.botId) throw new Error('a paired channel serves one bot')
    this.capabilities = new Set([...puppet.capabilities, ...official.capabilities])
  }

  get botId(): string { return this.puppet.botId }
  get online(): boolean { return this.puppet.online || this.official.online }
  private get window(): number { return this.deps.windowMs ?? 600_000 }

  async start(sink: ChannelSink): Promise<void> {
    const deliver = (e: ChannelEvent): Promise<void> => {
      if (sink.deliver) return sink.deliver(e)
      sink.event(e)
      return Promise.resolve()
    }
    const side = (name: 'puppet' | 'official'): ChannelSink => {
      const handle = (e: ChannelEvent): Promise<void> => {
        if (BotLoggedIn.is(e)) {
          const first = this.up.size === 0
          this.up.add(name)
          if (first) sink.event(e)
          return Promise.resolve()
        }
        if (BotLoggedOut.is(e)) {
          this.up.delete(name)
          if (this.up.size === 0) sink.event(e)
          return Promise.resolve()
        }
        return this.pass(name, e, deliver)
      }
      return {
        message: (m) => sink.message(m),
        event: (e) => {
          void handle(e).catch((error: unknown) => this.deps.log.warn('paired channel event not delivered', { bot: this.botId, event: e.type, error: errorText(error) }))
        },
        deliver: handle,
      }
    }
    this.outer = deliver
    await this.official.start(side('official'))
    await this.puppet.start(side('puppet'))
  }

  async stop(): Promise<void> {
    await this.puppet.stop()
    await this.official.stop()
  }

  /** Translates (official side), deduplicates joins and leaves, and delivers. */
  private async pass(side: 'puppet' | 'official', event: ChannelEvent, deliver: (e: ChannelEvent) => Promise<void>): Promise<void> {
    const translated = side === 'official' ? await this.translate(event) : [event]
    for (const e of translated) {
      const kept = await this.dedupe(side, e)
      if (kept) await deliver(kept)
    }
  }

  // ---- groups: chat id ↔ room id ----

  /** The link of a chat id, if any. */
  async linkOf(chatId: string): Promise<GroupLink | null> {
    return this.deps.store.linkBy(this.botId, { chatId })
  }

  /** The chat id linked to a room id, if any. */
  async chatOf(roomId: string): Promise<string | null> {
    return (await this.deps.store.linkBy(this.botId, { roomId }))?.chatId ?? null
  }

  /**
   * Links a chat to a room when exactly one other active group of the bot has the same name and member
   * count and is not linked yet; returns the room id, or null (none, or ambiguous: an owner links it).
   */
  private async autoLink(e: EventOfKind<typeof GroupSynced>): Promise<string | null> {
    const links = await this.deps.store.links(this.botId)
    const linkedRooms = new Set(links.map((l) => l.roomId))
    const candidates = (await this.deps.directory.activeGroups()).filter((g) => g.botId === this.botId && g.id !== e.groupId
      // WeCom lists the bot's own account among the members; the puppet's directory does not count it.
      && !linkedRooms.has(g.id) && g.name === e.name && (g.memberCount === e.members.length || g.memberCount + 1 === e.members.length))
    if (candidates.length !== 1) {
      if (candidates.length > 1) this.deps.log.warn('WeCom chat matches several puppet groups; link it through the admin API', { bot: this.botId, chat: e.groupId, candidates: candidates.length })
      return null
    }
    const room = (candidates[0] as GroupRecord).id
    await this.deps.store.link(this.botId, { chatId: e.groupId, roomId: room, source: 'auto', linkedBy: null, linkedAt: this.deps.clock.now() })
    this.deps.log.info('WeCom chat linked to the puppet group (same name and member count)', { bot: this.botId, chat: e.groupId, group: room })
    return room
  }

  /** Retires the directory entry a chat had under its own id before it was linked (the group shows once). */
  private async retire(chatId: string): Promise<void> {
    const at = this.deps.clock.now()
    // Straight to the runtime: through the official side it would be translated to the room.
    await this.outer?.(GroupLeft.of({ id: `wecom:linked:${chatId}:${at}`, at, botId: this.botId, groupId: chatId }))
  }

  private outer?: (e: ChannelEvent) => Promise<void>

  // ---- members: official id ↔ puppet id ----

  /**
   * Official ids → puppet ids in a room: stored links first, then (for snapshots with names) the one
   * member of the room with that name, remembered. Only members in the room now count for a name: a
   * former member of the same name is another person (a link, once stored, is permanent). Former members
   * count only by id (a leave names the member who left). Unresolved ids map to themselves and are listed.
   */
  private async resolveMembers(roomId: string, ids: readonly string[], names: ReadonlyMap<string, string>): Promise<{ map: Map<string, string>; unresolved: string[] }> {
    const map = await this.deps.store.memberLinks(this.botId, ids)
    const missing = ids.filter((id) => !map.has(id))
    const learned: Array<[string, string]> = []
    if (missing.length > 0) {
      const roomMembers = await this.deps.directory.members(roomId, { includeLeft: true })
      const taken = new Set(map.values())
      for (const id of missing) {
        if (roomMembers.some((m) => m.id === id)) { map.set(id, id); continue }
        const name = names.get(id)
        if (!name) continue
        const same = roomMembers.filter((m) => m.active && m.name === name && !taken.has(m.id))
        if (same.length !== 1) continue
        const puppetId = (same[0] as MemberRecord).id
        map.set(id, puppetId)
        taken.add(puppetId)
        learned.push([id, puppetId])
      }
      await this.deps.store.linkMembers(this.botId, learned, this.deps.clock.now())
    }
    return { map, unresolved: ids.filter((id) => !map.has(id)) }
  }

  /** An official event in the puppet's terms (none, one or two events). */
  private async translate(e: ChannelEvent): Promise<ChannelEvent[]> {
    if (!('groupId' in e) || !e.groupId) return [e]
    const chatId = e.groupId
    let roomId = (await this.linkOf(chatId))?.roomId ?? null
    if (!roomId && GroupSynced.is(e)) {
      roomId = await this.autoLink(e)
      if (roomId && (await this.deps.directory.find(chatId))?.active) await this.retire(chatId)
    }
    if (!roomId || roomId === chatId) return [e]
    try {
      return await this.inRoom(e, roomId)
    } catch (error) {
      this.deps.log.warn('WeCom event could not be translated to the puppet group', { bot: this.botId, chat: chatId, group: roomId, error: errorText(error) })
      throw error
    }
  }

  private async inRoom(e: ChannelEvent, roomId: string): Promise<ChannelEvent[]> {
    if (GroupSynced.is(e)) {
      const names = new Map(e.members.map((m) => [m.id, m.name]))
      const ids = [...new Set([...e.members.map((m) => m.id), ...(e.ownerId ? [e.ownerId] : [])])]
      const { map, unresolved } = await this.resolveMembers(roomId, ids, names)
      if (unresolved.length === 0) {
        const members: MemberSnapshot[] = e.members.map((m) => ({ ...m, id: map.get(m.id) as string }))
        return [GroupSynced.of({ ...e, groupId: roomId, ownerId: e.ownerId ? map.get(e.ownerId) : undefined, adminIds: e.adminIds.map((a) => map.get(a) ?? a), members })]
      }
      // Some members are not known on the puppet's side: the puppet's member list stands; only a new name is taken.
      this.deps.log.debug('WeCom sync of a linked group: members not all matched, keeping the puppet\'s list', { bot: this.botId, group: roomId, unmatched: unresolved.length })
      const stored = await this.deps.directory.find(roomId)
      if (stored && stored.name !== e.name) return [GroupRenamed.of({ id: `${e.id}:renamed`, at: e.at, botId: e.botId, groupId: roomId, oldName: stored.name, newName: e.name })]
      return []
    }
    if (MemberJoined.is(e)) {
      const names = new Map(e.members.map((m) => [m.id, m.name]))
      const { map } = await this.resolveMembers(roomId, e.members.map((m) => m.id), names)
      const inviter = e.inviterId ? (await this.resolveMembers(roomId, [e.inviterId], new Map())).map.get(e.inviterId) ?? e.inviterId : undefined
      return [MemberJoined.of({ ...e, groupId: roomId, inviterId: inviter, members: e.members.map((m) => ({ ...m, id: map.get(m.id) ?? m.id })) })]
    }
    if (MemberLeft.is(e)) {
      const { map } = await this.resolveMembers(roomId, [...e.memberIds, ...(e.removerId ? [e.removerId] : [])], new Map())
      return [MemberLeft.of({ ...e, groupId: roomId, memberIds: e.memberIds.map((id) => map.get(id) ?? id), removerId: e.removerId ? map.get(e.removerId) ?? e.removerId : undefined })]
    }
    if (GroupRenamed.is(e)) {
      const stored = await this.deps.directory.find(roomId)
      return [GroupRenamed.of({ ...e, groupId: roomId, oldName: stored?.name ?? e.oldName })]
    }
    return [{ ...e, groupId: roomId } as ChannelEvent]
  }

  // ---- one join, one leave ----

  private key(kind: 'j' | 'l', groupId: string, what: string): string {
    return `wecom:pair:${kind}:${this.botId}:${groupId}:${what}`
  }

  /**
   * Whether a member's join (or leave) is new: not reported before under this id (either side), nor under
   * this name by the other side. Names count across sides only, so two members of one name joining
   * through the same side are two joins. Marks this report.
   */
  private async fresh(kind: 'j' | 'l', side: 'puppet' | 'official', groupId: string, member: { id: string; name?: string }): Promise<boolean> {
    const { dedupe } = this.deps
    let fresh = await dedupe.firstSeen(this.key(kind, groupId, `id:${member.id}`), this.window)
    if (member.name) {
      const other = this.key(kind, groupId, `name:${side === 'puppet' ? 'official' : 'puppet'}:${hash(member.name)}`)
      // The port can only test by marking: a mark made just to look is taken back.
      if (await dedupe.firstSeen(other, this.window)) await dedupe.forget(other)
      else fresh = false
      await dedupe.firstSeen(this.key(kind, groupId, `name:${side}:${hash(member.name)}`), this.window)
    }
    return fresh
  }

  /** Forgets the marks of a member's join (after a leave) or leave (after a join). */
  private async reset(kind: 'j' | 'l', groupId: string, member: { id: string; name?: string }): Promise<void> {
    await this.deps.dedupe.forget(this.key(kind, groupId, `id:${member.id}`))
    if (member.name) for (const side of ['puppet', 'official']) await this.deps.dedupe.forget(this.key(kind, groupId, `name:${side}:${hash(member.name)}`))
  }

  /** Drops the members of a join or leave already delivered from the other side within the window. */
  private async dedupe(side: 'puppet' | 'official', e: ChannelEvent): Promise<ChannelEvent | null> {
    if (MemberJoined.is(e)) {
      const kept: MemberSnapshot[] = []
      for (const m of e.members) {
        if (await this.fresh('j', side, e.groupId, m)) kept.push(m)
        else this.deps.log.debug('join already reported by the other side', { bot: this.botId, group: e.groupId, side })
        // A leave after this join is a new fact: the leave marks go.
        await this.reset('l', e.groupId, { id: m.id })
      }
      if (kept.length === 0) return null
      return kept.length === e.members.length ? e : MemberJoined.of({ ...e, members: kept })
    }
    if (MemberLeft.is(e)) {
      const kept: string[] = []
      const known = new Map((await this.deps.directory.members(e.groupId, { includeLeft: true })).map((m) => [m.id, m.name]))
      for (const id of e.memberIds) {
        if (await this.fresh('l', side, e.groupId, { id })) kept.push(id)
        // A rejoin after this leave is a new fact: the join marks go (the name ones too, where known).
        await this.reset('j', e.groupId, { id, name: known.get(id) })
      }
      if (kept.length === 0) return null
      return kept.length === e.memberIds.length ? e : MemberLeft.of({ ...e, memberIds: kept })
    }
    return e
  }

  // ---- actions ----

  /** Which side performs an action, and the action in that side's terms (room id → chat id for the official API). */
  async route(action: OutboundAction): Promise<{ channel: Channel; action: OutboundAction }> {
    let official = action
    if ('groupId' in action && action.groupId) {
      const chat = await this.chatOf(action.groupId)
      if (chat) official = { ...action, groupId: chat } as OutboundAction
    }
    const officialCan = this.official.canPerform(official) || this.official.canPerform(action)
    const forOfficial = this.official.canPerform(official) ? official : action
    if (action.kind === 'tag' && officialCan) return { channel: this.official, action: forOfficial }
    if (this.puppet.online || !officialCan) return { channel: this.puppet, action }
    return { channel: this.official, action: forOfficial }
  }

  async perform(action: OutboundAction): Promise<void> {
    const { channel, action: translated } = await this.route(action)
    return channel.perform(translated)
  }
}
