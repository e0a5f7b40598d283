import { types, type Message } from 'wechaty'
import type { IncomingMessage, MessageType } from '../../kernel/context'

/** Our message kinds from wechaty's message types. */
export function mapType(type: types.Message): MessageType {
  switch (type) {
    case types.Message.Text: return 'text'
    case types.Message.Image: return 'image'
    case types.Message.Url: return 'url'
    case types.Message.MiniProgram: return 'miniprogram'
    case types.Message.Contact: return 'contact'
    case types.Message.Attachment: return 'file'
    case types.Message.Video: return 'video'
    case types.Message.Audio: return 'audio'
    case types.Message.Emoticon: return 'emoticon'
    case types.Message.Location: return 'location'
    default: return 'other'
  }
}

/** wechaty message types from ours (used by the simulation to create messages). */
export function wechatyType(type: MessageType): types.Message {
  switch (type) {
    case 'text': return types.Message.Text
    case 'image': return types.Message.Image
    case 'url': return types.Message.Url
    case 'miniprogram': return types.Message.MiniProgram
    case 'contact': return types.Message.Contact
    case 'file': return types.Message.Attachment
    case 'video': return types.Message.Video
    case 'audio': return types.Message.Audio
    case 'emoticon': return types.Message.Emoticon
    case 'location': return types.Message.Location
    default: return types.Message.Unknown
  }
}

/** Largest image loaded for inspection. */
const MAX_MEDIA_BYTES = 8 * 1024 * 1024

/** Turns a wechaty room message into plain data (null for direct messages). */
export async function toIncoming(botId: string, selfId: string, msg: Message): Promise<IncomingMessage | null> {
  const room = msg.room()
  if (!room) return null
  const talker = msg.talker()
  const type = mapType(msg.type())
  const mentions = (await msg.mentionList()).map((c) => c.id)
  const incoming: IncomingMessage = {
    id: msg.id,
    botId,
    groupId: room.id,
    senderId: talker.id,
    senderName: talker.name(),
    type,
    text: type === 'text' ? msg.text() : '',
    mentions,
    mentionsBot: mentions.includes(selfId),
    at: msg.date().getTime(),
  }
  if (type === 'image') {
    // Loaded only if a feature asks (QR scanning); capped so a huge file cannot exhaust memory.
    incoming.media = async () => {
      try {
        const buffer = await (await msg.toFileBox()).toBuffer()
        return buffer.length <= MAX_MEDIA_BYTES ? buffer : null
      } catch {
        return null
      }
    }
  } else if (type === 'url') {
    try {
      const link = await msg.toUrlLink()
      incoming.link = { url: link.url(), title: link.title(), description: link.description() ?? undefined }
      incoming.text = link.title()
    } catch { /* card without payload: keep the type, no details */ }
  } else if (type === 'miniprogram') {
    try {
      const mp = await msg.toMiniProgram()
      incoming.miniProgram = { appId: mp.appid() ?? undefined, title: mp.title() ?? undefined }
      incoming.text = mp.title() ?? ''
    } catch { /* as above */ }
  }
  return incoming
}
