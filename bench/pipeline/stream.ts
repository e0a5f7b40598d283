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
  /** Messages per group per minute at the stream's (simulated) time: sets the gap between messages. */
  perGroupPerMinute: number
  /** Share of text messages carrying an advert term of the shared lexicon (rules/words/ads.txt). */
  violationRate: number
  /** Share of text messages asking one of the auto-reply FAQ questions. */
  faqRate: number
  /** Advert terms to insert into violating messages (the bench reads them from the shared lexicon). */
  violationTerms: readonly string[]
  /**
   * `realistic` (default): whole local days with an hourly profile, steeper speaker skew, check-ins and
   * commands (see generateRealistic); `legacy`: the stream before (one busy afternoon, 2 messages per
   * group per minute, Zipf s = 1.07 speakers: nearly every message is its sender's first of the day).
   */
  shape: 'realistic' | 'legacy'
  /** realistic: local days the stream spans (messages spread over them by the hourly profile). */
  days: number
  /** realistic: Zipf exponent of the speakers within a group (rank rotated per group). */
  speakerSkew: number
  /** realistic: share of text messages that are a check-in (签到 / 打卡). */
  checkInRate: number
  /** realistic: share of text messages that are a leaderboard command (排行榜 / 积分榜). */
  commandRate: number
}

/** Relative message volume per local hour (Asia/Shanghai): quiet nights, a morning peak, lunch, an evening peak. */
export const HOURLY_PROFILE: readonly number[] = [0.8, 0.4, 0.2, 0.1, 0.1, 0.2, 0.6, 1.8, 3.5, 5.5, 6.0, 5.5, 5.0, 4.5, 5.0, 5.0, 5.0, 4.5, 4.0, 5.0, 7.0, 7.5, 5.5, 2.5]
/** Offset of the stream's timezone (Asia/Shanghai, no DST). */
const TZ_OFFSET_MS = 8 * 3_600_000
const DAY_MS = 86_400_000

/** Defaults of the benchmark spec. */
export const DEFAULT_STREAM: StreamOptions = {
  messages: 200_000,
  groups: 1_000,
  membersPerGroup: 300,
  seed: 20_251_112,
  botId: 'bench',
  // 2025-11-12 09:00 Asia/Shanghai: a weekday morning.
  startAt: Date.UTC(2025, 10, 12, 1, 0, 0),
  // A busy afternoon: on average 2 messages a minute in every group (the bench clock follows message time).
  perGroupPerMinute: 2,
  violationRate: 0.01,
  faqRate: 0.005,
  violationTerms: [],
  shape: 'realistic',
  days: 1,
  speakerSkew: 1.6,
  checkInRate: 0.02,
  commandRate: 0.002,
}

/** FAQ keywords of the benchmark's 200 auto-reply rules (rule i answers `faqKeyword(i)`). */
export function faqKeyword(i: number): string {
  const topics = ['报名', '发货', '退款', '课程', '直播', '优惠券', '积分', '会员', '地址', '时间']
  const verbs = ['怎么', '什么时候', '在哪里', '如何', '能不能']
  return `${verbs[i % verbs.length] as string}${topics[Math.floor(i / verbs.length) % topics.length] as string}${Math.floor(i / (verbs.length * topics.length)) + 1}`
}

/** Number of auto-reply rules the benchmark stores. */
export const FAQ_RULES = 200

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
  /** Messages with an advert term inserted / with an FAQ question. */
  violating: number
  faq: number
  /** Check-ins and leaderboard commands (realistic shape; 0 in legacy). */
  checkIns: number
  commands: number
  /** Messages that are their sender's first in that group on that local day. */
  firstOfDay: number
  /** Simulated time the stream spans (ms). */
  spanMs: number
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
  const stream = options.shape === 'legacy' ? generateLegacy(options) : generateRealistic(options)
  // First message of a member in a group on a local day (what tagging and stats do extra work for).
  const seen = new Set<string>()
  let firstOfDay = 0
  for (const m of stream.messages) {
    const key = `${m.groupId}\u0000${m.senderId}\u0000${Math.floor((m.at + TZ_OFFSET_MS) / DAY_MS)}`
    if (!seen.has(key)) { seen.add(key); firstOfDay++ }
  }
  const first = stream.messages[0]
  const last = stream.messages[stream.messages.length - 1]
  return { ...stream, firstOfDay, spanMs: first && last ? last.at - first.at : 0 }
}

/** Group members, Chinese names, group names: the same for both shapes. */
function makeGroups(random: ReturnType<typeof seededRandom>, options: StreamOptions): BenchGroup[] {
  const groups: BenchGroup[] = []
  for (let g = 0; g < options.groups; g++) {
    const theme = GROUP_THEMES[g % GROUP_THEMES.length]
    const members: MemberSnapshot[] = []
    for (let m = 0; m < options.membersPerGroup; m++) {
      members.push({ id: memberId(g, m), name: chineseName(random), role: m === 0 ? 'owner' : m === 1 ? 'admin' : 'member' })
    }
    groups.push({ id: groupId(g), name: `${theme?.name ?? '群'}${g + 1}`, members })
  }
  return groups
}

/** Makes a generated text as distinct as real chat (see generateLegacy) and returns it. */
function distinct(random: ReturnType<typeof seededRandom>, text: string): string {
  if (text.length < 6) return text
  const cut = random.int(0, text.length)
  return text.slice(0, cut) + String.fromCharCode(0x4e00 + random.int(0, 2999)) + text.slice(cut)
}

type Generated = Omit<Stream, 'firstOfDay' | 'spanMs'>

/**
 * The realistic shape: `days` whole local days (Asia/Shanghai) from the first local midnight at or after
 * `startAt`, message instants drawn by HOURLY_PROFILE (quiet nights, morning and evening peaks) and sorted;
 * the group by Zipf (s = 1.07) over `groups`, the sender by Zipf (s = `speakerSkew`, 1.6: a few members
 * do most of the talking, as in real groups) over the group's members, rank rotated per group. Text
 * messages: `violationRate` carry an advert term, `faqRate` ask an FAQ, `checkInRate` are a check-in
 * keyword, `commandRate` a leaderboard command; 8 % images, 3 % @-mentions. Deterministic (seededRandom).
 */
function generateRealistic(options: StreamOptions): Generated {
  const random = seededRandom(options.seed)
  const groups = makeGroups(random, options)
  const pickGroup = zipfSampler(random, options.groups)
  const pickRank = zipfSampler(random, options.membersPerGroup, options.speakerSkew)
  const hourCdf: number[] = []
  const total = HOURLY_PROFILE.reduce((a, b) => a + b, 0)
  let acc = 0
  for (const w of HOURLY_PROFILE) { acc += w / total; hourCdf.push(acc) }
  const base = Math.ceil((options.startAt + TZ_OFFSET_MS) / DAY_MS) * DAY_MS - TZ_OFFSET_MS
  const times = new Float64Array(options.messages)
  for (let i = 0; i < options.messages; i++) {
    const u = random.next()
    let hour = 0
    while (hour < 23 && (hourCdf[hour] as number) <= u) hour++
    times[i] = base + random.int(0, Math.max(0, options.days - 1)) * DAY_MS + hour * 3_600_000 + Math.floor(random.next() * 3_600_000)
  }
  times.sort()
  const messages: IncomingMessage[] = new Array<IncomingMessage>(options.messages)
  const perGroup = new Uint32Array(options.groups)
  const types: Record<string, number> = {}
  let violating = 0
  let faq = 0
  let checkIns = 0
  let commands = 0
  let previous = 0
  for (let i = 0; i < options.messages; i++) {
    const g = pickGroup()
    perGroup[g] = (perGroup[g] as number) + 1
    const group = groups[g] as BenchGroup
    const sender = group.members[(pickRank() + g * 37) % options.membersPerGroup] as MemberSnapshot
    const type: MessageType = random.next() < 0.08 ? 'image' : 'text'
    let text = type === 'text' ? distinct(random, messageText(random, 5, 60)) : ''
    if (type === 'text') {
      const u = random.next()
      let cut = options.violationRate
      if (u < cut && options.violationTerms.length > 0) {
        const term = options.violationTerms[random.int(0, options.violationTerms.length - 1)] as string
        const at = random.int(0, text.length)
        text = text.slice(0, at) + term + text.slice(at)
        violating++
      } else if (u < (cut += options.faqRate)) {
        text = `请问${faqKeyword(random.int(0, FAQ_RULES - 1))}？`
        faq++
      } else if (u < (cut += options.checkInRate)) {
        text = random.next() < 0.8 ? '签到' : '打卡'
        checkIns++
      } else if (u < (cut += options.commandRate)) {
        text = random.next() < 0.5 ? '排行榜' : '积分榜'
        commands++
      }
    }
    const mentions = type === 'text' && random.next() < 0.03 ? [(group.members[random.int(0, options.membersPerGroup - 1)] as MemberSnapshot).id] : []
    // Instants strictly increasing (ids and the clock follow message order).
    const at = Math.max(times[i] as number, previous + 1)
    previous = at
    types[type] = (types[type] ?? 0) + 1
    messages[i] = {
      id: `bench-msg-${options.seed}-${pad(i, 7)}`,
      botId: options.botId, groupId: group.id, senderId: sender.id, senderName: sender.name,
      type, text, mentions, mentionsBot: false, at,
    }
  }
  let top = 0
  for (const n of perGroup) if (n > top) top = n
  return { options, groups, messages, types, topGroupShare: options.messages > 0 ? top / options.messages : 0, violating, faq, checkIns, commands }
}

/** The stream before issue 11's realism change (kept for comparison: `--stream legacy`). */
function generateLegacy(options: StreamOptions): Generated {
  const random = seededRandom(options.seed)
  const groups = makeGroups(random, options)

  const pickGroup = zipfSampler(random, options.groups)
  const pickRank = zipfSampler(random, options.membersPerGroup)
  const messages: IncomingMessage[] = new Array<IncomingMessage>(options.messages)
  const perGroup = new Uint32Array(options.groups)
  const types: Record<string, number> = {}
  // Mean gap = 60,000 / (groups × perGroupPerMinute) ms; gaps uniform in [1, 2 × mean].
  const maxGap = Math.max(1, Math.round((2 * 60_000) / (options.groups * options.perGroupPerMinute)))
  let violating = 0
  let faq = 0
  let at = options.startAt
  for (let i = 0; i < options.messages; i++) {
    const g = pickGroup()
    perGroup[g] = (perGroup[g] as number) + 1
    const group = groups[g] as BenchGroup
    const m = (pickRank() + g * 37) % options.membersPerGroup
    const sender = group.members[m] as MemberSnapshot
    const type: MessageType = random.next() < 0.08 ? 'image' : 'text'
    let text = type === 'text' ? messageText(random, 5, 60) : ''
    if (type === 'text' && text.length >= 6) {
      // The phrase generator draws from a few hundred clauses; real chat repeats far less, so one CJK
      // character at a random place makes longer texts as distinct as real ones (otherwise moderation's
      // duplicate detector would see cross-group "spam" in ~6 % of messages).
      const cut = random.int(0, text.length)
      text = text.slice(0, cut) + String.fromCharCode(0x4e00 + random.int(0, 2999)) + text.slice(cut)
    }
    if (type === 'text') {
      // A few messages are what moderation and auto-reply exist for: an advert term, an FAQ question.
      const u = random.next()
      if (u < options.violationRate && options.violationTerms.length > 0) {
        const term = options.violationTerms[random.int(0, options.violationTerms.length - 1)] as string
        const cut = random.int(0, text.length)
        text = text.slice(0, cut) + term + text.slice(cut)
        violating++
      } else if (u < options.violationRate + options.faqRate) {
        text = `请问${faqKeyword(random.int(0, FAQ_RULES - 1))}？`
        faq++
      }
    }
    const mentions = type === 'text' && random.next() < 0.03 ? [(group.members[random.int(0, options.membersPerGroup - 1)] as MemberSnapshot).id] : []
    at += random.int(1, maxGap)
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
  return { options, groups, messages, types, topGroupShare: options.messages > 0 ? top / options.messages : 0, violating, faq, checkIns: 0, commands: 0 }
}

/** The group.synced event registering one group and its members (as the adapter sends it at login). */
export function syncedEvent(group: BenchGroup, botId: string, at: number): EventBase {
  return GroupSynced.of({
    id: `bench:synced:${group.id}`, botId, groupId: group.id, name: group.name,
    ownerId: group.members[0]?.id, adminIds: group.members[1] ? [group.members[1].id] : [],
    members: group.members, at,
  })
}
