import type { SimWorld } from '../adapters/wechaty/sim-world'
import { errorText, type Logger } from '../kernel/logger'
import type { Clock } from '../ports/clock'
import type { Random } from '../ports/random'
import { advertText, chatLine, checkInText, chineseName, GROUP_THEMES, zipfSampler, type GroupTheme } from './chatter'
import { EXAMPLE_AUTO_REPLIES } from './seed'

/** The rule pack of the simulated groups (rules/simulation.yaml): moderation, welcome and check-ins on. */
export const SIMULATION_RULE_PACK = 'simulation.yaml'

/** Real duration of one simulated day: a whole day of community life in ten minutes. */
export const SIMULATED_DAY_MS = 10 * 60_000

/** Simulated time of day when the community starts: dawn, so the morning rush comes within a minute. */
const START_HOUR = 6

/** A member who checked in is not expected to again for this long (real time: check-in days are real). */
const CHECK_IN_AGAIN_MS = 20 * 3_600_000

/** Settings of the demo community. */
export interface CommunitySettings {
  groups: number
  minMembers: number
  maxMembers: number
  /** Messages per minute across the whole community at an ordinary hour (busier mornings, quiet nights). */
  messagesPerMinute: number
  /** Real duration of one simulated day (default {@link SIMULATED_DAY_MS}). */
  dayMs?: number
  /** Simulated hour at start (default 6). */
  startHour?: number
}

/** Maps real time onto a compressed simulated day: the chatter follows it, the runtime's clock stays real. */
export class CompressedDay {
  constructor(readonly startedAt: number, readonly dayMs = SIMULATED_DAY_MS, readonly startHour = START_HOUR) {}

  /** Simulated hours since midnight of simulated day 0. */
  private hours(now: number): number { return this.startHour + ((now - this.startedAt) / this.dayMs) * 24 }

  /** Simulated hour of day (fractional, 0 ≤ h < 24). */
  hourOfDay(now: number): number { return ((this.hours(now) % 24) + 24) % 24 }

  /** Simulated day number (0 = the first). */
  dayAt(now: number): number { return Math.floor(this.hours(now) / 24) }

  /** Real time of simulated hour `hour` (fractional) on simulated day `day`. */
  realTime(day: number, hour: number): number { return this.startedAt + ((day * 24 + hour - this.startHour) / 24) * this.dayMs }
}

/** How busy a group chat is at a simulated hour, relative to an ordinary hour. */
export function activityAt(hour: number): number {
  if (hour < 6) return 0.15
  if (hour < 9) return 1.6
  if (hour < 12) return 1
  if (hour < 14) return 1.2
  if (hour < 18) return 0.9
  if (hour < 22) return 1.4
  return 0.5
}

/** Names spam accounts go by. */
const SPAMMER_NAMES: readonly string[] = ['兼职招聘-小美', '福利官🎁', '财富自由Amy', '宝妈副业导师', '内部渠道-阿杰', '免费领取小助手']

interface SimGroup { id: string; theme: GroupTheme; members: string[]; pickMember: () => number; ownerId: string }
interface Happening { at: number; seq: number; run: () => void }

/**
 * The built-in simulated community: a few themed groups whose members chat in Chinese through a
 * compressed simulated day (one day in {@link SIMULATED_DAY_MS} of real time, starting at dawn), so a new
 * user sees within the first minute what the bot does, whatever the local time: greetings and a 签到 rush
 * in the morning, a member catching up on missed days (补签), newcomers who are welcomed and ask the
 * FAQ, and a spammer warned and then removed. Timing comes from the Clock port (real in `npm start`,
 * fake in tests); stop() ends it.
 */
export class SimulatedCommunity {
  private readonly groups: SimGroup[] = []
  private readonly agenda: Happening[] = []
  private readonly checkedInAt = new Map<string, number>()
  private readonly caughtUp = new Set<string>()
  private day?: CompressedDay
  private running = false
  private seq = 0
  private nextMemberSeq = 0
  private nextSpammerSeq = 0
  private pickGroup: () => number = () => 0
  private sent = 0

  constructor(
    private readonly world: SimWorld,
    private readonly random: Random,
    private readonly settings: CommunitySettings,
    private readonly log: Logger,
    private readonly clock: Clock,
  ) {}

  /** Creates the groups and members (before the bot logs in, so login sync sees them). */
  populate(): void {
    for (let g = 0; g < this.settings.groups; g++) {
      const theme = GROUP_THEMES[g % GROUP_THEMES.length] as GroupTheme
      const size = this.random.int(this.settings.minMembers, this.settings.maxMembers)
      const members: string[] = []
      for (let i = 0; i < size; i++) members.push(this.newMember())
      const id = `sim-${theme.id}-${g}@chatroom`
      const ownerId = members[0] as string
      this.world.room(id, theme.name, members, ownerId, members.slice(1, 3))
      this.groups.push({ id, theme, members, ownerId, pickMember: zipfSampler(this.random, members.length) })
    }
    this.pickGroup = zipfSampler(this.random, this.groups.length, 0.8)
    this.log.info('simulated community created', { groups: this.groups.map((g) => ({ group: g.id, name: g.theme.name, members: g.members.length })) })
  }

  /** Starts the simulated day at dawn. */
  start(): void {
    const now = this.clock.now()
    this.day = new CompressedDay(now, this.settings.dayMs ?? SIMULATED_DAY_MS, this.settings.startHour ?? START_HOUR)
    this.running = true
    this.planDay(0)
    this.at(now, () => this.chat())
    this.log.info('simulated day starts at dawn', { simulatedHour: this.day.startHour, realMinutesPerDay: this.day.dayMs / 60_000 })
    void this.loop().catch((error: unknown) => this.log.error('simulation stopped', { error: errorText(error) }))
  }

  /** Ids of the simulated groups, busiest first. */
  groupIds(): string[] { return this.groups.map((g) => g.id) }

  /**
   * Members of the busiest group enter a lottery about half a minute from now, as members type it:
   * the keyword, with an emoji code, in traditional characters, in full-width forms.
   */
  enterLottery(keyword: string, entrants: number): void {
    const g = this.groups[0]
    if (!g) return
    const variants = [keyword, `${keyword}[呲牙]`, '參與抽獎！', `${keyword}～`, `${keyword}！！`]
    const who = new Set<string>()
    for (let tries = 0; who.size < entrants && tries < entrants * 10; tries++) who.add(g.members[3 + this.random.int(0, Math.max(0, g.members.length - 4))] as string)
    const now = this.clock.now()
    let i = 0
    for (const member of who) {
      const text = variants[i % variants.length] as string
      // After the first FAQ and the spammer's removal, and close together: the bot confirms them in one
      // batched message instead of spending the account's sending budget on each.
      this.at(now + 28_000 + i++ * 600, () => this.say(g, member, text))
    }
  }

  /** Stops the chatter. */
  stop(): void { this.running = false }

  /** Whether the chatter is on. */
  isRunning(): boolean { return this.running }

  /** The simulated hour of day now (for logs and tests). */
  hourOfDay(): number { return this.day ? this.day.hourOfDay(this.clock.now()) : this.settings.startHour ?? START_HOUR }

  private async loop(): Promise<void> {
    while (this.running) {
      const next = this.agenda[0]
      if (!next) return
      const wait = next.at - this.clock.now()
      if (wait > 0) await this.clock.sleep(wait)
      if (!this.running) return
      while (this.agenda.length > 0 && (this.agenda[0] as Happening).at <= this.clock.now()) {
        const due = this.agenda.shift() as Happening
        try { due.run() } catch (error) { this.log.warn('simulation step failed', { error: errorText(error) }) }
      }
    }
  }

  /** Schedules something at a real time. */
  private at(time: number, run: () => void): void {
    const h: Happening = { at: time, seq: this.seq++, run }
    let i = this.agenda.length
    while (i > 0 && (this.agenda[i - 1] as Happening).at > time) i--
    this.agenda.splice(i, 0, h)
  }

  /** Schedules something at a simulated hour of a simulated day. */
  private atHour(day: number, hour: number, run: () => void): void {
    this.at((this.day as CompressedDay).realTime(day, hour), run)
  }

  private group(index: number): SimGroup {
    return this.groups[index % this.groups.length] as SimGroup
  }

  /**
   * One simulated day's scenes, around the ordinary chatter. Day 0 keeps them in the first simulated
   * hour so a first run sees each; later days move them around the day and across groups.
   */
  private planDay(day: number): void {
    const first = day === 0
    const shift = (from: number, to: number): number => (first ? from : from + this.random.next() * (to - from))
    const rotate = first ? 0 : this.random.int(0, this.groups.length - 1)
    // A spammer joins and posts adverts until the strike ladder removes them.
    this.spammer(day, shift(6.3, 20), this.group(3 + rotate))
    // Two friends are invited together, get one welcome, and one of them asks the FAQ.
    this.newcomers(day, shift(6.5, 19), this.group(rotate))
    // Someone catches up on the days they missed before checking in (streaks of three).
    this.catchUp(day, shift(6.4, 9), this.group(1 + rotate))
    // The morning 签到 rush of the check-in group.
    this.rush(day, shift(6.6, 7.5), this.group(2 + rotate))
    this.atHour(day + 1, 0, () => this.planDay(day + 1))
  }

  private spammer(day: number, hour: number, g: SimGroup): void {
    this.atHour(day, hour, () => {
      const id = `sim-spam-${(this.nextSpammerSeq++).toString().padStart(4, '0')}`
      this.world.contact(id, this.random.pick(SPAMMER_NAMES))
      this.world.join(g.id, [id], g.members[g.pickMember()] as string)
      // Three adverts in quick succession (the strike ladder's length), then more only if still there.
      for (const [i, delay] of [0.15, 0.4, 0.65, 1.6, 2.6].entries()) {
        this.atHour(day, hour + delay, () => {
          // Removed by the bot (or gone): the spam stops.
          if (!this.world.isMember(g.id, id)) return
          this.say(g, id, advertText(this.random, g.theme))
          if (i === 0) this.log.debug('simulation: a spammer posts in a group', { group: g.id })
        })
      }
    })
  }

  private newcomers(day: number, hour: number, g: SimGroup): void {
    this.atHour(day, hour, () => {
      const inviter = g.members[g.pickMember()] as string
      const friends = [this.newMember(), this.newMember()]
      g.members.push(...friends)
      this.world.join(g.id, friends, inviter)
      this.atHour(day, hour + 0.5, () => {
        const faq = this.random.pick(EXAMPLE_AUTO_REPLIES)
        this.say(g, friends[0] as string, this.random.pick(faq.asks))
      })
    })
  }

  private catchUp(day: number, hour: number, g: SimGroup): void {
    const candidates = g.members.slice(3).filter((m) => !this.caughtUp.has(`${g.id}|${m}`))
    if (candidates.length === 0) return
    const member = this.random.pick(candidates)
    this.caughtUp.add(`${g.id}|${member}`)
    this.atHour(day, hour, () => this.say(g, member, '补签 前天'))
    this.atHour(day, hour + 0.1, () => this.say(g, member, '补签 昨天'))
    this.atHour(day, hour + 0.2, () => this.checkIn(g, member, '签到'))
  }

  private rush(day: number, hour: number, g: SimGroup): void {
    const count = Math.min(25, Math.max(3, Math.round(g.members.length * 0.3)))
    const who = new Set<string>()
    for (let tries = 0; who.size < count && tries < count * 5; tries++) who.add(g.members[g.pickMember()] as string)
    for (const member of who) {
      this.atHour(day, hour + this.random.next(), () => this.checkIn(g, member, checkInText(this.random, g.theme)))
    }
  }

  /** The ordinary chatter: a line from someone, at a pace that follows the simulated hour. */
  private chat(): void {
    if (!this.running) return
    const now = this.clock.now()
    const hour = (this.day as CompressedDay).hourOfDay(now)
    const meanMs = 60_000 / (this.settings.messagesPerMinute * activityAt(hour))
    // Exponential gaps around the mean: bursts and lulls like a real chat.
    this.at(now + Math.min(meanMs * 8, -Math.log(1 - this.random.next()) * meanMs), () => this.chat())
    const group = this.groups[this.pickGroup()] as SimGroup
    const roll = this.random.next()
    if (roll < 0.015) {
      // Someone invites a friend.
      const inviter = group.members[group.pickMember()] as string
      const newcomer = this.newMember()
      group.members.push(newcomer)
      this.world.join(group.id, [newcomer], inviter)
      return
    }
    if (roll < 0.025 && group.members.length > this.settings.minMembers) {
      const index = 1 + this.random.int(0, group.members.length - 2)
      const [leaver] = group.members.splice(index, 1)
      if (leaver) this.world.leave(group.id, [leaver])
      return
    }
    const speaker = group.members[Math.min(group.pickMember(), group.members.length - 1)] as string
    if (!this.world.isMember(group.id, speaker)) {
      // Removed by the bot: gone from the chat too.
      group.members.splice(group.members.indexOf(speaker), 1)
      return
    }
    // Regulars rarely forward an advert themselves; most spam comes from the spammers above.
    let line = chatLine(this.random, group.theme, { hour, advertRate: 0.003 })
    if (line.kind === 'checkin' && this.checkedInRecently(group, speaker, now)) line = chatLine(this.random, group.theme, { hour, advertRate: 0, checkinRate: 0 })
    if (line.kind === 'checkin') this.checkIn(group, speaker, line.text)
    else this.say(group, speaker, line.text)
  }

  private checkedInRecently(g: SimGroup, member: string, now: number): boolean {
    const last = this.checkedInAt.get(`${g.id}|${member}`)
    return last !== undefined && now - last < CHECK_IN_AGAIN_MS
  }

  private checkIn(g: SimGroup, member: string, text: string): void {
    const now = this.clock.now()
    if (this.checkedInRecently(g, member, now)) return
    this.checkedInAt.set(`${g.id}|${member}`, now)
    this.say(g, member, text)
  }

  private say(g: SimGroup, member: string, text: string): void {
    if (!this.world.isMember(g.id, member)) return
    this.world.say(g.id, member, text)
    if (++this.sent % 500 === 0) this.world.prune(2000)
  }

  private newMember(): string {
    const id = `sim-user-${(this.nextMemberSeq++).toString().padStart(5, '0')}`
    this.world.contact(id, chineseName(this.random))
    return id
  }
}
