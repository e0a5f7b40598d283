import type { BotDefinition, Config } from '../config/config.schema'
import type { MessageType } from '../kernel/context'
import { MemberJoined, type MemberRole } from '../kernel/events'
import type { Logger } from '../kernel/logger'
import { FakeClock } from '../ports/clock'
import { seededRandom } from '../ports/random'
import { roomId, SimWorld, type SimMessage } from '../adapters/wechaty/sim-world'
import type { PlatformAction } from '../adapters/wechaty/recording-puppet'
import type { PuppetLike } from '../adapters/wechaty/channel'
import { Runtime, type RuntimeObservation, type RuntimeOptions } from '../main'
import { VirtualTime } from './virtual-time'

/** A member of a rehearsal group. */
export interface RehearsalMember {
  id: string
  name: string
  role?: Exclude<MemberRole, 'bot'>
  /** When they joined (ms); unknown when absent. */
  joinedAt?: number
}

/** A group of a rehearsal. */
export interface RehearsalGroup {
  id: string
  name: string
  members: RehearsalMember[]
}

/** Options of a rehearsal. */
export interface RehearsalOptions {
  config: Config
  log: Logger
  groups: RehearsalGroup[]
  /** Fake-clock start (ms). */
  start?: number
  /** SQLite file (default in-memory; a file lets restart() keep state). */
  sqlitePath?: string
  /** Seed of the Random port. */
  seed?: number
  /** Per-group rule overrides, { groupId: { feature: slice } }. */
  rules?: Record<string, Record<string, unknown>>
  /** Whether to serve the admin API (default false). */
  http?: boolean
  /** Feature registry (default: the product's). */
  features?: RuntimeOptions['features']
  /**
   * After each step, move virtual time until the outbound queue is empty (default true: a test's next
   * line sees the bot's answer). Scripts set false: inputs then happen exactly at their times, and bot
   * actions at the times throttling allows.
   */
  drainAfterSteps?: boolean
}

/** Real-time limit for waiting on the pipeline; a rehearsal step that takes longer is a bug (generous: one
 * step may sync hundreds of groups on a loaded 2-core CI machine). */
const WAIT_LIMIT_MS = 30_000

const BOT: BotDefinition = {
  id: 'rehearsal', name: '群运助手', puppet: 'mock', tokenEnv: 'WECHATY_PUPPET_SERVICE_TOKEN', rulePack: 'default.yaml',
  groups: 'all', resolvedPuppet: 'mock', token: null, file: '(rehearsal)',
}

/**
 * The real runtime on a simulated WeCom world with a fake clock: members speak, join and leave; every
 * step waits until the pipeline has processed it. Shared by `qunyun simulate` and the conversation tests.
 */
export class Rehearsal {
  readonly clock: FakeClock
  readonly time: VirtualTime
  world!: SimWorld
  runtime!: Runtime
  private observations: RuntimeObservation[] = []
  private waiters: Array<{ test: (o: RuntimeObservation) => boolean; resolve: () => void }> = []
  private disposeObserver?: () => void

  private constructor(readonly options: RehearsalOptions) {
    this.clock = new FakeClock(options.start ?? Date.UTC(2026, 10, 23, 1, 0, 0))
    this.time = new VirtualTime(this.clock, () => this.runtime, () => this.world)
  }

  /** Builds the world, starts the runtime, logs the bot in and waits until every group is registered. */
  static async start(options: RehearsalOptions): Promise<Rehearsal> {
    const r = new Rehearsal(options)
    await r.boot()
    return r
  }

  /** The bot account id in the simulated world. */
  get botId(): string { return BOT.id }

  /** Everything the bot did on the platform so far. */
  get actions(): PlatformAction[] { return this.world.puppet.actions }

  private async boot(): Promise<void> {
    const { options } = this
    this.world = new SimWorld({ now: () => this.clock.now() })
    for (const g of options.groups) {
      for (const m of g.members) this.world.contact(m.id, m.name)
      const owner = g.members.find((m) => m.role === 'owner')?.id
      const admins = g.members.filter((m) => m.role === 'admin').map((m) => m.id)
      this.world.room(g.id, g.name, g.members.map((m) => m.id), owner, admins)
    }
    this.runtime = new Runtime(options.config, {
      log: options.log, clock: this.clock, random: seededRandom(options.seed ?? 1), bots: [BOT],
      puppetFor: () => this.world.puppet as unknown as PuppetLike,
      sqlitePath: options.sqlitePath ?? ':memory:', http: options.http ?? false, scheduler: false, simulation: false, features: options.features,
    })
    this.time.reset()
    this.disposeObserver = this.runtime.observe((o) => this.observed(o))
    await this.runtime.start()
    for (const [groupId, slices] of Object.entries(options.rules ?? {})) {
      for (const [feature, value] of Object.entries(slices)) await this.runtime.rules.write(roomId(groupId), feature, value, { by: null, note: 'rehearsal' })
    }
    // Known join times first, so the login sync keeps them.
    for (const g of options.groups) {
      const known = g.members.filter((m) => m.joinedAt !== undefined)
      for (const m of known) {
        await this.runtime.publish(MemberJoined.of({ id: `rehearsal:joined:${g.id}:${m.id}`, botId: BOT.id, groupId: roomId(g.id), members: [{ id: m.id, name: m.name, role: m.role ?? 'member' }], at: m.joinedAt as number }))
      }
    }
    // With shared coordination (Redis), another runtime of the same test may hold the bot's lease: this one
    // then runs jobs and the API only, like a replica without bots, and its login sync never comes.
    const holds = this.runtime.ownership.holds(BOT.id)
    const synced = holds ? options.groups.map((g) => this.waitFor((o) => o.kind === 'event' && o.event.type === 'group.synced' && o.event.groupId === roomId(g.id))) : []
    this.world.login()
    await Promise.all(synced)
    await this.settleStep()
  }

  private observed(o: RuntimeObservation): void {
    this.time.observed(o)
    this.observations.push(o)
    for (const w of [...this.waiters]) {
      if (w.test(o)) {
        this.waiters.splice(this.waiters.indexOf(w), 1)
        w.resolve()
      }
    }
  }

  /** Resolves when an observation matching `test` arrives (or has arrived). */
  waitFor(test: (o: RuntimeObservation) => boolean, what = 'pipeline step'): Promise<void> {
    if (this.observations.some(test)) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`rehearsal: timed out waiting for ${what}`)), WAIT_LIMIT_MS)
      this.waiters.push({ test, resolve: () => { clearTimeout(timer); resolve() } })
    })
  }

  /** A member says something; resolves after the pipeline processed it. Returns the message id. */
  async say(group: string, memberId: string, message: SimMessage | string, id?: string): Promise<string> {
    const messageId = id ?? `m${this.observations.length}-${Math.floor(this.clock.now() / 1000)}-${Math.random().toString(36).slice(2, 8)}`
    const done = this.waitFor((o) => o.kind === 'message' && o.id === messageId, `message ${messageId}`)
    this.world.say(group, memberId, message, messageId)
    await done
    await this.settleStep()
    return messageId
  }

  /** The platform delivers an already-delivered message again; resolves after the pipeline saw it. */
  async redeliver(group: string, memberId: string, message: SimMessage | string, id: string): Promise<void> {
    const before = this.observations.filter((o) => o.kind === 'message' && o.id === id).length
    const done = this.waitFor(() => this.observations.filter((o) => o.kind === 'message' && o.id === id).length > before, `redelivery of ${id}`)
    this.world.say(group, memberId, message, id)
    await done
    await this.settleStep()
  }

  /** Members join (new contacts are created). */
  async join(group: string, members: Array<{ id: string; name: string }>, inviterId: string): Promise<void> {
    for (const m of members) this.world.contact(m.id, m.name)
    await this.eventStep('member.joined', group, () => this.world.join(group, members.map((m) => m.id), inviterId))
  }

  /** Members leave (removed by `removerId`, or on their own). */
  async leave(group: string, memberIds: string[], removerId?: string): Promise<void> {
    await this.eventStep('member.left', group, () => this.world.leave(group, memberIds, removerId))
  }

  /** Someone renames the group. */
  async rename(group: string, name: string, byId: string): Promise<void> {
    await this.eventStep('group.renamed', group, () => this.world.rename(group, name, byId))
  }

  private async eventStep(type: string, group: string, act: () => void): Promise<void> {
    const count = this.observations.length
    const done = this.waitFor((o) => this.observations.indexOf(o) >= count && o.kind === 'event' && o.event.type === type && 'groupId' in o.event && o.event.groupId === roomId(group), type)
    act()
    await done
    await this.settleStep()
  }

  /** After a step: drain the outbound queue (tests), or only let the runtime settle at this instant (scripts). */
  private async settleStep(): Promise<void> {
    if (this.options.drainAfterSteps === false) await this.time.idle()
    else await this.quiesce()
  }

  /** Moves the fake clock, letting every sleeper whose time has come (throttled sends, batch windows) act at its time. */
  async advance(ms: number): Promise<void> {
    await this.advanceTo(this.clock.now() + ms)
  }

  /** Moves the fake clock to an instant (never backwards). */
  async advanceTo(time: number): Promise<void> {
    await this.time.runUntil(time)
    await this.settleStep()
  }

  /**
   * Lets in-flight work finish: the pipeline idle and, moving the fake clock through throttling pauses
   * (at most `maxVirtualMs`), the outbound queue empty.
   */
  async quiesce(maxVirtualMs = 3_600_000): Promise<void> {
    await this.time.drain('outbound', maxVirtualMs)
  }

  /**
   * Runs until nothing is left to happen: answers still held in batch or welcome windows go out, and
   * every queued action is performed at the time throttling allows (at most `maxVirtualMs` of virtual time).
   */
  async finish(maxVirtualMs = 86_400_000): Promise<void> {
    await this.time.drain('everything', maxVirtualMs)
  }

  /** Stops the runtime gracefully (drain, flush) and starts a new one on the same database file. */
  async restart(): Promise<void> {
    const persistent = this.options.config.database.url !== null || (this.options.sqlitePath !== undefined && this.options.sqlitePath !== ':memory:')
    if (!persistent) throw new Error('restart() needs a database that outlives the runtime (a sqlitePath file or MySQL)')
    await this.runtime.stop()
    this.disposeObserver?.()
    this.observations = []
    await this.boot()
  }

  /** Stops everything. */
  async close(): Promise<void> {
    await this.runtime.stop()
    this.disposeObserver?.()
  }
}

/** Message types a script may use. */
export const SCRIPT_MESSAGE_TYPES: MessageType[] = ['text', 'image', 'url', 'miniprogram', 'contact', 'file', 'video', 'audio', 'emoticon', 'location']
