import { mock, RecordingPuppet } from './recording-puppet'
import type { MessageType } from '../../kernel/context'
import { wechatyType } from './map'

/** A message a simulated member sends. */
export interface SimMessage {
  type?: MessageType
  text?: string
  mentions?: string[]
  /** For type 'url'. */
  url?: string
  title?: string
  /** For type 'miniprogram'. */
  appId?: string
  /** For type 'image': the picture's bytes (PNG or JPEG). */
  image?: Buffer
}

/** Makes a room id acceptable to the mock (room ids must contain '@'). */
export function roomId(id: string): string {
  return id.includes('@') ? id : `${id}@chatroom`
}

/**
 * A simulated WeCom world on wechaty-puppet-mock: contacts, rooms, and members who speak, join and
 * leave at the times a Clock gives. Shared by the demo community, `qunyun simulate` and the tests.
 */
export class SimWorld {
  readonly mocker = new mock.Mocker()
  readonly puppet: RecordingPuppet
  readonly botId: string
  /** Messages, joins, leaves and renames emitted so far (drivers of virtual time wait until each is processed). */
  inputs = 0
  private seq = 0

  constructor(options: { now: () => number; botContactId?: string; botName?: string }) {
    this.puppet = new RecordingPuppet({ mocker: this.mocker, now: options.now })
    this.botId = options.botContactId ?? 'qunyun-bot'
    this.mocker.createContact({ id: this.botId, name: options.botName ?? '群运助手' })
  }

  /** Creates (or returns) a contact. */
  contact(id: string, name: string): mock.ContactMock {
    if (this.mocker.cacheContactPayload.has(id)) return this.mocker.ContactMock.load(id)
    return this.mocker.createContact({ id, name })
  }

  /** Creates a room with the bot and the given members in it. */
  room(id: string, name: string, memberIds: string[], ownerId?: string, adminIds: string[] = []): mock.RoomMock {
    const rid = roomId(id)
    return this.mocker.createRoom({ id: rid, topic: name, memberIdList: [this.botId, ...memberIds], ownerId, adminIdList: adminIds })
  }

  /** Logs the bot in (call after the bot runtime has started). */
  login(): void { this.mocker.login(this.mocker.ContactMock.load(this.botId)) }

  /** A member says something in a room; returns the message id. */
  say(room: string, memberId: string, message: SimMessage | string, id?: string): string {
    const m: SimMessage = typeof message === 'string' ? { text: message } : message
    const type = m.type ?? 'text'
    const messageId = id ?? `sim-${Date.now().toString(36)}-${(this.seq++).toString(36)}`
    if (type === 'url') this.puppet.cards.set(messageId, { url: { url: m.url ?? 'https://example.com', title: m.title ?? m.text ?? '' } })
    if (type === 'miniprogram') this.puppet.cards.set(messageId, { miniProgram: { appid: m.appId, title: m.title ?? m.text } })
    if (type === 'image' && m.image) this.puppet.cards.set(messageId, { image: m.image })
    // Straight into the payload cache: MessageMock.create would also keep an object per message forever.
    this.mocker.cacheMessagePayload.set(messageId, {
      id: messageId, talkerId: memberId, roomId: roomId(room), timestamp: this.puppet.now(),
      type: wechatyType(type), text: type === 'text' ? (m.text ?? '') : (m.title ?? m.text ?? ''), mentionIdList: m.mentions ?? [],
    })
    this.inputs++
    this.puppet.emit('message', { messageId })
    return messageId
  }

  /** Re-delivers an existing message id (as a platform does after a reconnect). */
  redeliver(messageId: string): void {
    this.inputs++
    this.puppet.emit('message', { messageId })
  }

  /** Members join a room, invited by `inviterId`. */
  join(room: string, memberIds: string[], inviterId: string): void {
    const r = this.mocker.RoomMock.load(roomId(room))
    for (const id of memberIds) if (!r.payload.memberIdList.includes(id)) r.payload.memberIdList.push(id)
    this.inputs++
    this.puppet.emit('room-join', { roomId: r.id, inviteeIdList: memberIds, inviterId, timestamp: this.puppet.now() })
  }

  /** Members leave a room (removed by `removerId`, or on their own). */
  leave(room: string, memberIds: string[], removerId?: string): void {
    const r = this.mocker.RoomMock.load(roomId(room))
    r.payload.memberIdList = r.payload.memberIdList.filter((id) => !memberIds.includes(id))
    this.inputs++
    this.puppet.emit('room-leave', { roomId: r.id, removeeIdList: memberIds, removerId: removerId ?? memberIds[0] ?? '', timestamp: this.puppet.now() })
  }

  /** Someone renames a room. */
  rename(room: string, name: string, byId: string): void {
    const r = this.mocker.RoomMock.load(roomId(room))
    const old = r.payload.topic
    r.payload.topic = name
    this.inputs++
    this.puppet.emit('room-topic', { roomId: r.id, newTopic: name, oldTopic: old, changerId: byId, timestamp: this.puppet.now() })
  }

  /** Members currently in a room (without the bot). */
  members(room: string): string[] {
    return this.mocker.RoomMock.load(roomId(room)).payload.memberIdList.filter((id) => id !== this.botId)
  }

  /** Whether a member is in a room right now (the bot may have removed them). */
  isMember(room: string, memberId: string): boolean {
    return this.mocker.cacheRoomPayload.get(roomId(room))?.memberIdList.includes(memberId) ?? false
  }

  /** Drops cached message payloads beyond the newest `keep` (the mock keeps every payload forever). */
  prune(keep = 2000): void {
    const cache = this.mocker.cacheMessagePayload
    const excess = cache.size - keep
    if (excess <= 0) return
    let i = 0
    for (const key of cache.keys()) {
      if (i++ >= excess) break
      cache.delete(key)
      this.puppet.cards.delete(key)
    }
  }
}
