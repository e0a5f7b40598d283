import type { PlatformAction } from '../../src/adapters/wechaty/recording-puppet'
import { roomId, type SimMessage } from '../../src/adapters/wechaty/sim-world'
import type { Config } from '../../src/config/config.schema'
import type { Logger } from '../../src/kernel/logger'
import { Rehearsal, type RehearsalGroup, type RehearsalOptions } from '../../src/simulation/rehearsal'
import { silentLogger, testConfig } from './env'

/** A member as tests refer to them. */
export interface Person { id: string; name: string }

/**
 * A conversation test: real wechaty on the recording mock puppet, the real runtime, a fake clock.
 * Reads like a chat: `await group.say(alice, '签到'); group.expectReply(/连续签到/)`.
 */
export class Chat {
  private cursor = 0
  private world: unknown

  private constructor(readonly rehearsal: Rehearsal) {}

  /** Starts a chat with the given groups (default: one group "g1" with alice (owner), bob, carol). */
  static async start(options: Partial<Omit<RehearsalOptions, 'config' | 'log'>> & { config?: Config; configOverrides?: Record<string, unknown>; log?: Logger } = {}): Promise<Chat> {
    const config = options.config ?? await testConfig(options.configOverrides)
    const groups: RehearsalGroup[] = options.groups ?? [{
      id: 'g1', name: '测试群', members: [
        { id: 'alice', name: 'Alice', role: 'owner' },
        { id: 'bob', name: '阿强' },
        { id: 'carol', name: '小雨🌸' },
      ],
    }]
    const rehearsal = await Rehearsal.start({ ...options, config, log: options.log ?? silentLogger, groups })
    const chat = new Chat(rehearsal)
    chat.skip()
    return chat
  }

  /** The runtime under test. */
  get runtime() { return this.rehearsal.runtime }
  /** The fake clock. */
  get clock() { return this.rehearsal.clock }

  /** A handle on one group. */
  group(id: string): GroupHandle { return new GroupHandle(this, id) }

  /** After a restart the simulated world is new: start reading its actions from the beginning. */
  private sync(): void {
    if (this.world !== this.rehearsal.world) {
      this.world = this.rehearsal.world
      this.cursor = 0
    }
  }

  /** Bot actions not yet consumed by an expectation. */
  pending(): PlatformAction[] {
    this.sync()
    return this.rehearsal.actions.slice(this.cursor)
  }

  /** Takes the first pending action matching `test`, or fails with what was there instead. */
  take(test: (a: PlatformAction) => boolean, what: string): PlatformAction {
    this.sync()
    const actions = this.rehearsal.actions
    for (let i = this.cursor; i < actions.length; i++) {
      const a = actions[i] as PlatformAction
      if (test(a)) {
        // Consumed: later expectations look after it.
        this.cursor = i + 1
        return a
      }
    }
    throw new Error(`expected ${what}; the bot did: ${JSON.stringify(this.pending())}`)
  }

  /**
   * Retries an expectation until it holds (real-time bounded): for effects that follow an outcome
   * asynchronously, such as telling the owner after a failed removal.
   */
  async eventually<T>(expectation: () => T, timeoutMs = 5000): Promise<T> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      try {
        return expectation()
      } catch (error) {
        if (Date.now() > deadline) throw error
        await this.rehearsal.quiesce()
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
    }
  }

  /**
   * Plays a dedupe mark a kill -9 lost (never confirmed): the platform's redelivered copy of `messageId` is
   * processed again. The runtime's filter is private, so a test reaches in to drop the mark from memory,
   * coordination and the table.
   */
  async loseDedupeMark(messageId: string): Promise<void> {
    await (this.runtime as unknown as { seen: { forget?(id: string): Promise<void> } }).seen.forget?.(messageId)
    await this.runtime.db.query('DELETE FROM qy_seen_message WHERE id LIKE ?', [`%${messageId}`])
  }

  /**
   * A kill -9 with a feature's answer window open: its drain never runs (what it stored stays stored), and a
   * new process starts on the same database. What the old process said is skipped.
   */
  async killWithWindowOpen(feature: string): Promise<void> {
    const live = this.runtime.features.find((f) => f.name === feature)
    if (!live) throw new Error(`${feature} feature not running`)
    live.instance.drain = undefined
    await this.rehearsal.restart()
    this.skip()
  }

  /**
   * Runs a feature's sweep job `rounds` times (the first `afterMs` from now, then `afterMs` apart), with a
   * restart after each round, and returns what the bot said in them.
   */
  async sweepAcrossRestarts(job: string, afterMs: number, rounds = 2): Promise<PlatformAction[]> {
    await this.rehearsal.advance(afterMs)
    const says: PlatformAction[] = []
    for (let i = 0; i < rounds; i++) {
      await this.runtime.scheduler.runFenced(job, new Date(this.clock.now()))
      await this.rehearsal.quiesce()
      says.push(...this.pending().filter((a) => a.kind === 'say'))
      await this.rehearsal.restart()
      this.skip()
      await this.rehearsal.advance(afterMs)
    }
    return says
  }

  /** Marks everything so far as seen. */
  skip(): void {
    this.sync()
    this.cursor = this.rehearsal.actions.length
  }

  /** Stops the runtime. */
  close(): Promise<void> { return this.rehearsal.close() }
}

/** Chat helpers scoped to one group. */
export class GroupHandle {
  readonly roomId: string
  constructor(private readonly chat: Chat, readonly id: string) { this.roomId = roomId(id) }

  /** `who` says `what`; resolves once the pipeline processed it. Returns the message id. */
  say(who: Person | string, what: SimMessage | string, id?: string): Promise<string> {
    return this.chat.rehearsal.say(this.id, typeof who === 'string' ? who : who.id, what, id)
  }

  /** The bot said something in this group matching `pattern` (and @-mentioned `mention`, if given). */
  expectReply(pattern: RegExp, mention?: Person): PlatformAction {
    return this.chat.take((a) => a.kind === 'say' && a.groupId === this.roomId && pattern.test(a.text ?? '') && (!mention || (a.mentions ?? []).includes(mention.id)),
      `a reply matching ${String(pattern)} in ${this.id}`)
  }

  /** The bot said nothing in this group since the last expectation. */
  expectNoReply(): void {
    const said = this.chat.pending().filter((a) => a.kind === 'say' && a.groupId === this.roomId)
    if (said.length > 0) throw new Error(`expected no reply in ${this.id}; the bot said: ${JSON.stringify(said.map((a) => a.text))}`)
  }

  /** The bot removed `who` from this group. */
  expectRemoved(who: Person): PlatformAction {
    return this.chat.take((a) => a.kind === 'remove' && a.groupId === this.roomId && a.memberId === who.id, `removal of ${who.id} from ${this.id}`)
  }

  /** Members join, invited by `by`. */
  join(people: Person[], by: Person): Promise<void> { return this.chat.rehearsal.join(this.id, people, by.id) }

  /** Members leave (removed by `by`, or on their own). */
  leave(people: Person[], by?: Person): Promise<void> { return this.chat.rehearsal.leave(this.id, people.map((p) => p.id), by?.id) }

  /** Someone renames the group. */
  rename(name: string, by: Person): Promise<void> { return this.chat.rehearsal.rename(this.id, name, by.id) }
}

/** The default cast. */
export const alice: Person = { id: 'alice', name: 'Alice' }
export const bob: Person = { id: 'bob', name: '阿强' }
export const carol: Person = { id: 'carol', name: '小雨🌸' }
