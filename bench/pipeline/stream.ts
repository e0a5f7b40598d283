import type { IncomingMessage, MessageType } from '../../src/kernel/context'
import { GroupSynced, type EventBase, type MemberSnapshot } from '../../src/kernel/events'
import { seededRandom } from '../../src/ports/random'
import { chineseName, GROUP_THEMES, messageText, zipfSampler } from '../../src/simulation/chatter'

/** Shape of the generated workload. */
export interface StreamOptions {
  messages: number
  groups: number
  membersPerGroup: number
  seed: number
  botId: string
  /** First message's timestamp (ms since epoch). */
  startAt: number
}

/** Defaults of the benchmark spec. */
export const DEFAULT_STREAM: StreamOptions = {
  messages: 200_000,
  groups: 1_000,
  membersPerGroup: 300,
  seed: 20_251_112,
  botId: 'bench',
  // 2025-11-12 09:00 Asia/Shanghai: a weekday morning.
  startAt: Date.UTC(2025, 10, 12, 1, 0, 0),
}

/** One benchmark group with its member list (for the group.synced event). */
export interface BenchGroup {
  id: string
  name: string
  members: MemberSnapshot[]
}

/** The generated workload: groups to register, then messages to feed. */
export interface Stream {
  options: StreamOptions
  groups: BenchGroup[]
  messages: IncomingMessage[]
  /** How many messages of each type (for the report). */
  types: Record<string, number>
  /** Share of all messages that went to the busiest group. */
  topGroupShare: number
}

const pad = (n: number, width: number): string => String(n).padStart(width, '0')

/** Group id in WeCom room style. */
export function groupId(index: number): string { return `bench-g${pad(index + 1, 4)}@chatroom` }

/** Member id, unique per group (the same person in two groups is two ids here; the pipeline does not care). */
export function memberId(group: number, member: number): string { return `wm-bench-${pad(group + 1, 4)}-${pad(member + 1, 3)}` }

/**
 * Generates the stream deterministically (seededRandom): groups chosen by Zipf (s=1.07) over `groups`,
 * the sender by Zipf over the group's members (rank rotated per group so each group has its own "top
 * talker"), Chinese text of 5–60 characters from messageText(), ~8% images, ~3% with an @-mention,
 * `at` increasing by 1–6 ms per message from a fixed instant. Message ids are unique.
 */
export function generateStream(options: StreamOptions = DEFAULT_STREAM): Stream {
  const random = seededRandom(options.seed)
  const groups: BenchGroup[] = []
  for (let g = 0; g < options.groups; g++) {
    const theme = GROUP_THEMES[g % GROUP_THEMES.length]
    const members: MemberSnapshot[] = []
    for (let m = 0; m < options.membersPerGroup; m++) {
      members.push({ id: memberId(g, m), name: chineseName(random), role: m === 0 ? 'owner' : m === 1 ? 'admin' : 'member' })
    }
    groups.push({ id: groupId(g), name: `${theme?.name ?? '群'}${g + 1}`, members })
  }

  const pickGroup = zipfSampler(random, options.groups)
  const pickRank = zipfSampler(random, options.membersPerGroup)
  const messages: IncomingMessage[] = new Array<IncomingMessage>(options.messages)
  const perGroup = new Uint32Array(options.groups)
  const types: Record<string, number> = {}
  let at = options.startAt
  for (let i = 0; i < options.messages; i++) {
    const g = pickGroup()
    perGroup[g] = (perGroup[g] as number) + 1
    const group = groups[g] as BenchGroup
    const m = (pickRank() + g * 37) % options.membersPerGroup
    const sender = group.members[m] as MemberSnapshot
    const type: MessageType = random.next() < 0.08 ? 'image' : 'text'
    const text = type === 'text' ? messageText(random, 5, 60) : ''
    const mentions = type === 'text' && random.next() < 0.03 ? [(group.members[random.int(0, options.membersPerGroup - 1)] as MemberSnapshot).id] : []
    at += random.int(1, 6)
    types[type] = (types[type] ?? 0) + 1
    messages[i] = {
      id: `bench-msg-${options.seed}-${pad(i, 7)}`,
      botId: options.botId,
      groupId: group.id,
      senderId: sender.id,
      senderName: sender.name,
      type,
      text,
      mentions,
      mentionsBot: false,
      at,
    }
  }
  let top = 0
  for (const n of perGroup) if (n > top) top = n
  return { options, groups, messages, types, topGroupShare: options.messages > 0 ? top / options.messages : 0 }
}

/** The group.synced event registering one group and its members (as the adapter sends it at login). */
export function syncedEvent(group: BenchGroup, botId: string, at: number): EventBase {
  return GroupSynced.of({
    id: `bench:synced:${group.id}`, botId, groupId: group.id, name: group.name,
    ownerId: group.members[0]?.id, adminIds: group.members[1] ? [group.members[1].id] : [],
    members: group.members, at,
  })
}
