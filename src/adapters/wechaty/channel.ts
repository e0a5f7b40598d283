import { log as wechatyLog, WechatyBuilder, type Contact, type Room, type RoomInvitation, type Wechaty } from 'wechaty'
import PuppetService from 'wechaty-puppet-service'
import { FileBox, type FileBoxInterface } from 'file-box'
import { isMediaRef, type MediaStore } from '../../contracts/media'
import type { Config, BotDefinition } from '../../config/config.schema'
import type { OutboundAction } from '../../kernel/context'
import type { ActionKind, Channel, ChannelSink } from '../../kernel/channel'
import {
  BotFailed, BotLoggedIn, BotLoggedOut, GroupJoined, GroupLeft, GroupRenamed, GroupSynced, InvitationReceived, MemberJoined, MemberLeft,
  type MemberSnapshot,
} from '../../kernel/events'
import { errorText, type Logger } from '../../kernel/logger'
import { AlreadyDoneError, OfflineError, TransientError } from '../../kernel/outbound'
import type { Clock } from '../../ports/clock'
import { KeyedQueue } from '../../kernel/keyed-queue'
import { toIncoming } from './map'

/** The puppet a bot runs on: a real WeCom account or a simulation. */
export type PuppetLike = NonNullable<NonNullable<Parameters<typeof WechatyBuilder.build>[0]>['puppet']>

/** Creates the puppet for a real account (wechaty-puppet-service, e.g. a WorkPro token). */
export function createServicePuppet(bot: BotDefinition, config: Config): PuppetLike {
  const tls = config.puppet.tls
  return new PuppetService({
    token: bot.token ?? undefined,
    endpoint: config.puppet.endpoint ?? undefined,
    timeoutSeconds: config.puppet.timeoutSeconds,
    tls: { disable: tls.disable, caCert: tls.caCert ?? undefined, serverName: tls.serverName ?? undefined },
  }) as unknown as PuppetLike
}

/** Maps our log level onto wechaty's own logger (its info level is chatty, so it starts at warn). */
export function setWechatyLogLevel(level: Config['log']['level']): void {
  wechatyLog.level(level === 'debug' ? 'info' : level === 'error' ? 'error' : 'warn')
}

/** Errors from the puppet that are worth retrying. */
function classify(error: unknown): Error {
  const text = String((error as Error)?.message ?? error)
  if (/timeout|timed out|ECONNRESET|UNAVAILABLE|not logged in|rate/i.test(text)) return new TransientError(text)
  return error instanceof Error ? error : new Error(text)
}

/** Everything a puppet account can do. */
const CAPABILITIES: ReadonlySet<ActionKind> = new Set<ActionKind>(['say', 'sayCard', 'sayImage', 'sayDirect', 'remove', 'add', 'tag', 'acceptInvitation'])

/**
 * One bot account on wechaty — the channel of a puppet account, and the only place that knows wechaty.
 * Turns wechaty events into plain messages and channel events, and performs outbound actions. Its own
 * messages and rooms outside the bot's configured groups are ignored.
 */
export class WechatyChannel implements Channel {
  readonly kind = 'wechaty'
  readonly capabilities = CAPABILITIES
  readonly wechaty: Wechaty
  private selfId = ''
  private loggedIn = false
  private sink: ChannelSink | null = null
  /** Reading a message is async (mentions, cards): keep each room's messages in arrival order. */
  private readonly reading = new KeyedQueue()

  constructor(private readonly deps: {
    definition: BotDefinition
    puppet: PuppetLike
    clock: Clock
    log: Logger
    /** Resolves `media:` image references (stored uploads) to their bytes; without it such images fail. */
    media?: MediaStore['load']
  }) {
    this.wechaty = WechatyBuilder.build({ name: `qunyun-${deps.definition.id}`, puppet: deps.puppet })
    this.wire()
  }

  /** The file of an outbound image: a URL, or a stored upload (`media:`) loaded now (the queued row holds only the reference). */
  private async imageFile(url: string): Promise<FileBoxInterface> {
    if (!isMediaRef(url)) return FileBox.fromUrl(url)
    if (!this.deps.media) throw new Error(`image ${url}: no media store to load it from`)
    const stored = await this.deps.media(url)
    if (!stored) throw new Error(`image ${url} no longer exists`)
    return FileBox.fromBuffer(stored.data, stored.name)
  }

  /** This bot's id in qunyun (the bots/ file's id). */
  get botId(): string { return this.deps.definition.id }

  /** Whether the account is logged in. */
  get online(): boolean { return this.loggedIn }

  /** The account's own contact id (once logged in). */
  get accountId(): string { return this.selfId }

  /** Starts the puppet (login follows asynchronously); what it hears goes to `sink`. */
  async start(sink: ChannelSink): Promise<void> {
    this.sink = sink
    await this.wechaty.start()
  }

  /** Stops the puppet. */
  async stop(): Promise<void> { await this.wechaty.stop() }

  private serves(groupId: string): boolean {
    const groups = this.deps.definition.groups
    return groups === 'all' || groups.includes(groupId)
  }

  private wire(): void {
    const { log, clock } = this.deps
    const botId = this.botId
    const w = this.wechaty
    // Events arrive only after start(); the sink is set there.
    const sink: ChannelSink = {
      message: (m) => this.sink?.message(m),
      event: (e) => this.sink?.event(e),
    }

    w.on('error', (error) => {
      log.error('wechaty error', { bot: botId, error: errorText(error) })
      const at = clock.now()
      sink.event(BotFailed.of({ id: `${botId}:failed:${at}`, botId, at, error: String(error) }))
    })

    w.on('login', (user) => {
      this.selfId = user.id
      this.loggedIn = true
      log.info('bot logged in', { bot: botId, account: user.id })
      const at = clock.now()
      sink.event(BotLoggedIn.of({ id: `${botId}:login:${at}`, botId, name: user.name(), at }))
      void this.syncAll().catch((error: unknown) => log.error('group sync failed', { bot: botId, error: errorText(error) }))
    })

    w.on('logout', (_user, reason) => {
      this.loggedIn = false
      log.warn('bot logged out', { bot: botId, reason })
      const at = clock.now()
      sink.event(BotLoggedOut.of({ id: `${botId}:logout:${at}`, botId, at, reason }))
    })

    w.on('message', (msg) => {
      if (msg.self()) return
      const room = msg.room()
      if (!room || !this.serves(room.id)) return
      void this.reading.run(room.id, async () => {
        try {
          const incoming = await toIncoming(botId, this.selfId, msg)
          if (incoming) sink.message(incoming)
        } catch (error) {
          log.error('could not read message', { bot: botId, group: room.id, msg: msg.id, error: errorText(error) })
        }
      })
    })

    w.on('room-join', (room, invitees, inviter, date) => {
      if (!this.serves(room.id)) return
      const at = date?.getTime() ?? clock.now()
      if (invitees.some((c) => c.id === this.selfId)) {
        void room.topic().then((name) => {
          sink.event(GroupJoined.of({ id: `${room.id}:bot-joined:${at}`, botId, groupId: room.id, name, inviterId: inviter.id, at }))
          return this.syncRoom(room)
        }).catch((error: unknown) => log.error('group sync failed', { bot: botId, group: room.id, error: errorText(error) }))
        return
      }
      const members = invitees.map((c) => snapshot(c, room))
      sink.event(MemberJoined.of({ id: `${room.id}:joined:${at}:${members.map((m) => m.id).join(',')}`, botId, groupId: room.id, members, inviterId: inviter.id, at }))
    })

    w.on('room-leave', (room, leavers, remover, date) => {
      if (!this.serves(room.id)) return
      const at = date?.getTime() ?? clock.now()
      if (leavers.some((c) => c.id === this.selfId)) {
        sink.event(GroupLeft.of({ id: `${room.id}:bot-left:${at}`, botId, groupId: room.id, removerId: remover?.id, at }))
        return
      }
      const memberIds = leavers.map((c) => c.id)
      // wechaty names the leaver as remover when they left on their own: that is the quit scene 'left'.
      const removed = remover !== undefined && remover !== null && !memberIds.includes(remover.id)
      sink.event(MemberLeft.of({ id: `${room.id}:left:${at}:${memberIds.join(',')}`, botId, groupId: room.id, memberIds, removerId: remover?.id, scene: removed ? 'removed' : 'left', at }))
    })

    w.on('room-topic', (room, newTopic, oldTopic, changer, date) => {
      if (!this.serves(room.id)) return
      const at = date?.getTime() ?? clock.now()
      sink.event(GroupRenamed.of({ id: `${room.id}:renamed:${at}`, botId, groupId: room.id, oldName: oldTopic, newName: newTopic, changerId: changer?.id, at }))
    })

    w.on('room-invite', (invitation: RoomInvitation) => {
      void Promise.all([invitation.inviter(), invitation.topic()]).then(([inviter, topic]) => {
        sink.event(InvitationReceived.of({ id: `${botId}:invitation:${invitation.id}`, botId, invitationId: invitation.id, inviterId: inviter.id, inviterName: inviter.name(), topic, at: clock.now() }))
      }).catch((error: unknown) => log.error('could not read room invitation', { bot: botId, error: errorText(error) }))
    })
  }

  /** Registers every room the bot is in (at login). */
  private async syncAll(): Promise<void> {
    const rooms = await this.wechaty.Room.findAll()
    let synced = 0
    for (const room of rooms) {
      if (!this.serves(room.id)) continue
      await this.syncRoom(room)
      synced++
    }
    this.deps.log.info('groups synced at login', { bot: this.botId, groups: synced })
  }

  private async syncRoom(room: Room): Promise<void> {
    await room.sync()
    const members = await room.memberAll()
    const owner = room.owner()
    const adminIds = room.payload?.adminIdList ?? []
    const at = this.deps.clock.now()
    this.sink?.event(GroupSynced.of({
      id: `${room.id}:synced:${at}`, botId: this.botId, groupId: room.id, name: await room.topic(), ownerId: owner?.id, adminIds,
      members: members.filter((c) => c.id !== this.selfId).map((c) => snapshot(c, room)), at,
    }))
  }

  /**
   * Performs one outbound action on the platform (called by the outbound queue only). Throws OfflineError
   * while logged out, so the queue waits for the login instead of spending attempts.
   */
  async perform(action: OutboundAction): Promise<void> {
    if (!this.loggedIn) throw new OfflineError(this.botId)
    try {
      const w = this.wechaty
      switch (action.kind) {
        case 'say': {
          const room = await w.Room.find({ id: action.groupId })
          if (!room) throw new Error(`room ${action.groupId} not found`)
          const mentions = await this.contacts(action.mentions ?? [])
          await room.say(action.text, ...mentions)
          return
        }
        case 'sayCard': {
          const room = await w.Room.find({ id: action.groupId })
          if (!room) throw new Error(`room ${action.groupId} not found`)
          await room.say(new w.UrlLink({ url: action.card.url, title: action.card.title, description: action.card.description, thumbnailUrl: action.card.thumbnailUrl }))
          return
        }
        case 'sayImage': {
          const room = await w.Room.find({ id: action.groupId })
          if (!room) throw new Error(`room ${action.groupId} not found`)
          await room.say(await this.imageFile(action.imageUrl))
          return
        }
        case 'sayDirect': {
          const [contact] = await this.contacts([action.contactId])
          if (!contact) throw new Error(`contact ${action.contactId} not found`)
          await contact.say(action.text)
          return
        }
        case 'remove': case 'add': {
          const room = await w.Room.find({ id: action.groupId })
          if (!room) throw new Error(`room ${action.groupId} not found`)
          const [contact] = await this.contacts([action.memberId])
          if (!contact) throw new Error(`member ${action.memberId} not found`)
          if (action.kind === 'remove') await this.removeMember(room, contact)
          else await room.add(contact)
          return
        }
        case 'tag': {
          const [contact] = await this.contacts([action.memberId])
          if (!contact) throw new Error(`member ${action.memberId} not found`)
          const tag = await w.Tag.get(action.tag)
          if (action.remove) await tag.remove(contact)
          else await tag.add(contact)
          return
        }
        case 'acceptInvitation': {
          await w.RoomInvitation.load(action.invitationId).accept()
          return
        }
      }
    } catch (error) {
      if (error instanceof AlreadyDoneError) throw error
      // Logged out while performing: the action waits for the login rather than counting as a failure.
      if (!this.loggedIn) throw new OfflineError(this.botId, `bot ${this.botId} logged out while performing: ${String((error as Error)?.message ?? error)}`)
      throw classify(error)
    }
  }

  /**
   * Removes a member. When the platform refuses, the room's member list is read afresh: a member no longer
   * in the room (they left, an admin or another replica removed them) makes the removal already done, not
   * a failure. Only a refusal is checked this way — a stale cached list never skips a removal.
   */
  private async removeMember(room: Room, contact: Contact): Promise<void> {
    try {
      await room.remove(contact)
    } catch (error) {
      if (!this.loggedIn || classify(error) instanceof TransientError) throw error
      let present: boolean
      try {
        await room.sync()
        present = await room.has(contact)
      } catch {
        throw error
      }
      if (!present) throw new AlreadyDoneError('already_gone', 'the member is no longer in the group')
      throw error
    }
  }

  private async contacts(ids: string[]): Promise<Contact[]> {
    const found = await Promise.all(ids.map((id) => this.wechaty.Contact.find({ id })))
    return found.filter((c): c is Contact => Boolean(c))
  }
}

/** A member snapshot from a wechaty contact. */
function snapshot(contact: Contact, room: Room): MemberSnapshot {
  const owner = room.owner()
  const admins = room.payload?.adminIdList ?? []
  return { id: contact.id, name: contact.name(), role: owner?.id === contact.id ? 'owner' : admins.includes(contact.id) ? 'admin' : 'member' }
}
