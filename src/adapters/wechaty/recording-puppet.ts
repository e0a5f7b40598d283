import { createHash } from 'node:crypto'
import { PuppetMock, mock } from 'wechaty-puppet-mock'
import { types, type payloads } from 'wechaty'
import { FileBox, type FileBoxInterface } from 'file-box'

/** What the bot did, as the simulated platform saw it. */
export interface PlatformAction {
  kind: 'say' | 'remove' | 'add' | 'tag' | 'untag' | 'acceptInvitation'
  at: number
  groupId?: string
  memberId?: string
  text?: string
  mentions?: string[]
  tag?: string
  invitationId?: string
  /** A link card the bot sent. */
  card?: { url: string; title: string; description?: string }
  /** An image the bot sent (its source URL or file name). */
  image?: string
  /** sha256 (hex) of an image sent as bytes (not by URL). */
  imageSha256?: string
}

/** A pending room invitation in the simulated platform. */
export interface SimulatedInvitation {
  id: string
  inviterId: string
  roomId: string
  topic: string
  memberCount: number
  timestamp: number
}

/** Failure to inject into the next platform call of a kind (tests of retries and failed removals). */
export interface InjectedFailure {
  kind: PlatformAction['kind']
  error: Error
  times: number
}

/**
 * wechaty-puppet-mock whose removals, additions, tags and invitation answers take effect (room membership
 * changes and room-join/room-leave events fire) and are recorded with the simulated time. Used by the
 * simulated community, `qunyun simulate` and the conversation tests.
 */
export class RecordingPuppet extends PuppetMock {
  readonly actions: PlatformAction[] = []
  readonly failures: InjectedFailure[] = []
  readonly invitations = new Map<string, SimulatedInvitation>()
  /** Card payloads of simulated link and mini-program messages, by message id. */
  readonly cards = new Map<string, { url?: payloads.UrlLink; miniProgram?: payloads.MiniProgram; image?: Buffer }>()
  private readonly watchers = new Set<(action: PlatformAction) => void>()
  private echoes = 0

  constructor(options: { mocker: mock.Mocker; now?: () => number }) {
    super({ mocker: options.mocker })
    this.now = options.now ?? Date.now
  }

  /** Clock used for recorded actions and emitted events. */
  now: () => number

  /** Calls `watcher` for every recorded action; returns a disposer. */
  watch(watcher: (action: PlatformAction) => void): () => void {
    this.watchers.add(watcher)
    return () => this.watchers.delete(watcher)
  }

  private record(action: Omit<PlatformAction, 'at'>): void {
    const failure = this.failures.find((f) => f.kind === action.kind && f.times > 0)
    if (failure) {
      failure.times--
      throw failure.error
    }
    const full = { ...action, at: this.now() }
    this.actions.push(full)
    for (const watcher of this.watchers) watcher(full)
  }

  override async messageSendText(conversationId: string, text: string, mentionIdList?: string[]): Promise<void> {
    this.record({ kind: 'say', groupId: conversationId, text, mentions: mentionIdList ?? [] })
    this.echo(conversationId, { type: types.Message.Text, text, mentionIdList: mentionIdList ?? [] })
  }

  /**
   * Delivers what the bot sent back to it as a message event from itself, as real puppets do (the account
   * sees its own messages, and wechaty's `msg.self()` is true for them) — so tests show the bot ignores
   * its own words instead of assuming it.
   */
  private echo(conversationId: string, message: { type: types.Message; text?: string; mentionIdList?: string[] }, card?: { url?: payloads.UrlLink }): void {
    const id = `self-${(this.echoes++).toString(36)}`
    const inRoom = this.mocker.cacheRoomPayload.has(conversationId)
    const address = inRoom ? { roomId: conversationId } : { listenerId: conversationId }
    this.mocker.cacheMessagePayload.set(id, { id, talkerId: this.currentUserId, ...address, timestamp: this.now(), text: '', mentionIdList: [], ...message } as payloads.Message)
    if (card) this.cards.set(id, card)
    this.emit('message', { messageId: id })
  }

  override async contactRawPayload(id: string): Promise<payloads.Contact> {
    // wechaty marks a room's member list dirty with the *room* id and then looks that id up as a contact
    // (Room.sync → dirty RoomMember → Contact.find); the real puppets answer, the mock throws. Answer with
    // a neutral payload so simulations don't log spurious errors.
    const room = this.mocker.cacheRoomPayload.get(id)
    if (room && !this.mocker.cacheContactPayload.has(id)) return { id, name: room.topic, gender: 0, type: 0, avatar: '', phone: [], friend: false, star: false } as payloads.Contact
    return super.contactRawPayload(id)
  }

  override async messageSendUrl(conversationId: string, payload: payloads.UrlLink): Promise<void> {
    this.record({ kind: 'say', groupId: conversationId, card: { url: payload.url, title: payload.title, description: payload.description } })
    this.echo(conversationId, { type: types.Message.Url, text: payload.title }, { url: payload })
  }

  override async messageSendFile(conversationId: string, file: { name: string; remoteUrl?: string }): Promise<void> {
    // Records where the image comes from without downloading it (the simulation has no network);
    // an image sent as bytes is recorded with their hash.
    const remoteUrl = (file as { remoteUrl?: string }).remoteUrl
    const box = file as Partial<FileBoxInterface>
    const imageSha256 = !remoteUrl && typeof box.toBuffer === 'function' ? createHash('sha256').update(await box.toBuffer()).digest('hex') : undefined
    this.record({ kind: 'say', groupId: conversationId, image: remoteUrl ?? file.name, ...(imageSha256 ? { imageSha256 } : {}) })
    this.echo(conversationId, { type: types.Message.Image })
  }

  override async messageFile(messageId: string): Promise<FileBoxInterface> {
    const image = this.cards.get(messageId)?.image
    return image ? FileBox.fromBuffer(image, 'image.png') : super.messageFile(messageId)
  }

  override async messageUrl(messageId: string): Promise<payloads.UrlLink> {
    return this.cards.get(messageId)?.url ?? super.messageUrl(messageId)
  }

  override async messageMiniProgram(messageId: string): Promise<payloads.MiniProgram> {
    return this.cards.get(messageId)?.miniProgram ?? super.messageMiniProgram(messageId)
  }

  override async roomDel(roomId: string, contactId: string): Promise<void> {
    const room = this.mocker.RoomMock.load(roomId)
    if (!room.payload.memberIdList.includes(contactId)) throw new Error(`member ${contactId} is not in room ${roomId}`)
    this.record({ kind: 'remove', groupId: roomId, memberId: contactId })
    room.payload.memberIdList = room.payload.memberIdList.filter((id) => id !== contactId)
    this.emit('room-leave', { roomId, removeeIdList: [contactId], removerId: this.currentUserId, timestamp: this.now() })
  }

  override async roomAdd(roomId: string, contactId: string): Promise<void> {
    const room = this.mocker.RoomMock.load(roomId)
    this.record({ kind: 'add', groupId: roomId, memberId: contactId })
    if (!room.payload.memberIdList.includes(contactId)) room.payload.memberIdList.push(contactId)
    this.emit('room-join', { roomId, inviteeIdList: [contactId], inviterId: this.currentUserId, timestamp: this.now() })
  }

  override async tagContactAdd(tagId: string, contactId: string): Promise<void> {
    this.record({ kind: 'tag', memberId: contactId, tag: tagId })
  }

  override async tagContactRemove(tagId: string, contactId: string): Promise<void> {
    this.record({ kind: 'untag', memberId: contactId, tag: tagId })
  }

  override async roomInvitationRawPayload(roomInvitationId: string): Promise<SimulatedInvitation> {
    const invitation = this.invitations.get(roomInvitationId)
    if (!invitation) throw new Error(`no invitation ${roomInvitationId}`)
    return invitation
  }

  override async roomInvitationRawPayloadParser(raw: SimulatedInvitation): Promise<payloads.RoomInvitation> {
    return {
      id: raw.id, inviterId: raw.inviterId, topic: raw.topic, avatar: '', invitation: raw.id,
      memberCount: raw.memberCount, memberIdList: [], timestamp: raw.timestamp, receiverId: this.currentUserId,
    }
  }

  override async roomInvitationAccept(roomInvitationId: string): Promise<void> {
    const invitation = this.invitations.get(roomInvitationId)
    if (!invitation) throw new Error(`no invitation ${roomInvitationId}`)
    if (this.actions.some((a) => a.kind === 'acceptInvitation' && a.invitationId === roomInvitationId)) throw new Error(`invitation ${roomInvitationId} already accepted`)
    this.record({ kind: 'acceptInvitation', invitationId: roomInvitationId, groupId: invitation.roomId })
    const room = this.mocker.RoomMock.load(invitation.roomId)
    if (!room.payload.memberIdList.includes(this.currentUserId)) room.payload.memberIdList.push(this.currentUserId)
    this.emit('room-join', { roomId: invitation.roomId, inviteeIdList: [this.currentUserId], inviterId: invitation.inviterId, timestamp: this.now() })
  }

  /** Simulates someone inviting the bot into a room. */
  invite(invitation: Omit<SimulatedInvitation, 'timestamp'>): void {
    this.invitations.set(invitation.id, { ...invitation, timestamp: this.now() })
    this.emit('room-invite', { roomInvitationId: invitation.id })
  }
}

export { mock }
