import { log as wechatyLog, WechatyBuilder, type Contact, type Room, type RoomInvitation, type Wechaty } from 'wechaty'
import PuppetService from 'wechaty-puppet-service'
import { FileBox } from 'file-box'
import type { Config, BotDefinition } from '../../config/config.schema'
import type { IncomingMessage, OutboundAction } from '../../kernel/context'
import type { DomainEvent, MemberSnapshot } from '../../kernel/events'
import type { Logger } from '../../kernel/logger'
import { OfflineError, TransientError, type ActionPerformer } from '../../kernel/outbound'
import type { Clock } from '../../ports/clock'
import { KeyedQueue } from '../../kernel/keyed-queue'
import { toIncoming } from './map'

/** Where the adapter delivers what it hears. */
export interface BotSink {
  message(message: IncomingMessage): void
  event(event: DomainEvent): void
}

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

/**
 * One bot account on wechaty: the only place that knows wechaty. Turns wechaty events into plain
 * messages and domain events, and performs outbound actions. Its own messages and rooms outside the bot's
 * configured groups are ignored.
 */
export class WechatyBot implements ActionPerformer {
  readonly wechaty: Wechaty
  private selfId = ''
  private loggedIn = false
  /** Reading a message is async (mentions, cards): keep each room's messages in arrival order. */
  private readonly reading = new KeyedQueue()

  constructor(private readonly deps: {
    definition: BotDefinition
    puppet: PuppetLike
    sink: BotSink
    clock: Clock
    log: Logger
  }) {
    this.wechaty = WechatyBuilder.build({ name: `qunyun-${deps.definition.id}`, puppet: deps.puppet })
    this.wire()
  }

  /** This bot's id in qunyun (the bots/ file's id). */
  get id(): string { return this.deps.definition.id }

  /** Whether the account is logged in. */
  get online(): boolean { return this.loggedIn }

  /** Starts the puppet (login follows asynchronously). */
  async start(): Promise<void> { await this.wechaty.start() }

  /** Stops the puppet. */
  async stop(): Promise<void> { await this.wechaty.stop() }

  private serves(groupId: string): boolean {
    const groups = this.deps.definition.groups
    return groups === 'all' || groups.includes(groupId)
  }

  private wire(): void {
    const { sink, log, clock } = this.deps
    const botId = this.id
    const w = this.wechaty

    w.on('error', (error) => {
      log.error('wechaty error', { bot: botId, error: String(error) })
      sink.event({ type: 'bot.failed', botId, at: clock.now(), error: String(error) })
    })

    w.on('login', (user) => {
      this.selfId = user.id
      this.loggedIn = true
      log.info('bot logged in', { bot: botId, account: user.id })
      sink.event({ type: 'bot.loggedIn', botId, name: user.name(), at: clock.now() })
      void this.syncAll().catch((error: unknown) => log.error('group sync failed', { bot: botId, error: String(error) }))
    })

    w.on('logout', (_user, reason) => {
      this.loggedIn = false
      log.warn('bot logged out', { bot: botId, reason })
      sink.event({ type: 'bot.loggedOut', botId, at: clock.now(), reason })
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
          log.error('could not read message', { bot: botId, group: room.id, msg: msg.id, error: String(error) })
        }
      })
    })

    w.on('room-join', (room, invitees, inviter, date) => {
      if (!this.serves(room.id)) return
      const at = date?.getTime() ?? clock.now()
      if (invitees.some((c) => c.id === this.selfId)) {
        void room.topic().then((name) => {
          sink.event({ type: 'group.joined', botId, groupId: room.id, name, inviterId: inviter.id, at })
          return this.syncRoom(room)
        }).catch((error: unknown) => log.error('group sync failed', { bot: botId, group: room.id, error: String(error) }))
        return
      }
      sink.event({ type: 'member.joined', botId, groupId: room.id, members: invitees.map((c) => snapshot(c, room)), inviterId: inviter.id, at })
    })

    w.on('room-leave', (room, leavers, remover, date) => {
      if (!this.serves(room.id)) return
      const at = date?.getTime() ?? clock.now()
      if (leavers.some((c) => c.id === this.selfId)) {
        sink.event({ type: 'group.left', botId, groupId: room.id, removerId: remover?.id, at })
        return
      }
      sink.event({ type: 'member.left', botId, groupId: room.id, memberIds: leavers.map((c) => c.id), removerId: remover?.id, at })
    })

    w.on('room-topic', (room, newTopic, oldTopic, changer, date) => {
      if (!this.serves(room.id)) return
      sink.event({ type: 'group.renamed', botId, groupId: room.id, oldName: oldTopic, newName: newTopic, changerId: changer?.id, at: date?.getTime() ?? clock.now() })
    })

    w.on('room-invite', (invitation: RoomInvitation) => {
      void Promise.all([invitation.inviter(), invitation.topic()]).then(([inviter, topic]) => {
        sink.event({ type: 'group.invitationReceived', botId, invitationId: invitation.id, inviterId: inviter.id, inviterName: inviter.name(), topic, at: clock.now() })
      }).catch((error: unknown) => log.error('could not read room invitation', { bot: botId, error: String(error) }))
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
    this.deps.log.info('groups synced at login', { bot: this.id, groups: synced })
  }

  private async syncRoom(room: Room): Promise<void> {
    await room.sync()
    const members = await room.memberAll()
    const owner = room.owner()
    const adminIds = room.payload?.adminIdList ?? []
    this.deps.sink.event({
      type: 'group.synced', botId: this.id, groupId: room.id, name: await room.topic(), ownerId: owner?.id, adminIds,
      members: members.filter((c) => c.id !== this.selfId).map((c) => snapshot(c, room)), at: this.deps.clock.now(),
    })
  }

  /**
   * Performs one outbound action on the platform (called by the outbound queue only). Throws OfflineError
   * while logged out, so the queue waits for the login instead of spending attempts.
   */
  async perform(action: OutboundAction): Promise<void> {
    if (!this.loggedIn) throw new OfflineError(this.id)
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
          await room.say(FileBox.fromUrl(action.imageUrl))
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
          if (action.kind === 'remove') await room.remove(contact)
          else await room.add(contact)
          return
        }
        case 'tag': {
          const [contact] = await this.contacts([action.memberId])
          if (!contact) throw new Error(`member ${action.memberId} not found`)
          const tag = await w.Tag.get(action.tag)
          await tag.add(contact)
          return
        }
        case 'acceptInvitation': {
          await w.RoomInvitation.load(action.invitationId).accept()
          return
        }
      }
    } catch (error) {
      // Logged out while performing: the action waits for the login rather than counting as a failure.
      if (!this.loggedIn) throw new OfflineError(this.id, `bot ${this.id} logged out while performing: ${String((error as Error)?.message ?? error)}`)
      throw classify(error)
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
