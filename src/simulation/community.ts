import type { SimWorld } from '../adapters/wechaty/sim-world'
import type { Logger } from '../kernel/logger'
import type { Random } from '../ports/random'
import { chatLine, chineseName, GROUP_THEMES, zipfSampler, type GroupTheme } from './chatter'

/** Settings of the demo community. */
export interface CommunitySettings {
  groups: number
  minMembers: number
  maxMembers: number
  messagesPerMinute: number
}

interface SimGroup { id: string; theme: GroupTheme; members: string[]; pickMember: () => number; ownerId: string }

/**
 * The built-in simulated community: a few themed groups whose members chat in Chinese at a realistic
 * pace (greetings by time of day, questions, answers, 签到, the odd advert), and join and leave now and then.
 * Runs on real time through a SimWorld; stop() ends it.
 */
export class SimulatedCommunity {
  private readonly groups: SimGroup[] = []
  private timer?: NodeJS.Timeout
  private running = false
  private nextMemberSeq = 0
  private pickGroup: () => number = () => 0
  private sent = 0

  constructor(private readonly world: SimWorld, private readonly random: Random, private readonly settings: CommunitySettings, private readonly log: Logger) {}

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

  /** Starts the chatter. */
  start(): void {
    this.running = true
    this.schedule()
  }

  /** Stops the chatter. */
  stop(): void {
    this.running = false
    if (this.timer) clearTimeout(this.timer)
  }

  private newMember(): string {
    const id = `sim-user-${(this.nextMemberSeq++).toString().padStart(5, '0')}`
    this.world.contact(id, chineseName(this.random))
    return id
  }

  private schedule(): void {
    if (!this.running) return
    // Exponential gaps around the configured mean: bursts and lulls like a real chat.
    const meanMs = 60_000 / this.settings.messagesPerMinute
    const gap = Math.min(meanMs * 8, -Math.log(1 - this.random.next()) * meanMs)
    this.timer = setTimeout(() => {
      try { this.tick() } catch (error) { this.log.warn('simulation step failed', { error: String(error) }) }
      this.schedule()
    }, gap)
    this.timer.unref()
  }

  private tick(): void {
    const group = this.groups[this.pickGroup()] as SimGroup
    const roll = this.random.next()
    if (roll < 0.02) {
      // Someone invites a friend.
      const inviter = group.members[group.pickMember()] as string
      const newcomer = this.newMember()
      group.members.push(newcomer)
      this.world.join(group.id, [newcomer], inviter)
      return
    }
    if (roll < 0.03 && group.members.length > this.settings.minMembers) {
      const index = 1 + this.random.int(0, group.members.length - 2)
      const [leaver] = group.members.splice(index, 1)
      if (leaver) this.world.leave(group.id, [leaver])
      return
    }
    const hour = new Date(Date.now() + 8 * 3_600_000).getUTCHours()
    const line = chatLine(this.random, group.theme, { hour })
    const speaker = group.members[Math.min(group.pickMember(), group.members.length - 1)] as string
    this.world.say(group.id, speaker, line.text)
    if (++this.sent % 500 === 0) this.world.prune(2000)
  }
}
