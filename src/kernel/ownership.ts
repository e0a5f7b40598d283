import type { Clock } from '../ports/clock'
import type { Lease, Leases, Roster } from '../ports/ports'
import { errorText, type Logger } from './logger'

/** Lease timing of bot ownership (config `replicas`). */
export interface OwnershipSettings {
  /** A lease lives this long without renewal. */
  leaseTtlMs: number
  /** How often held leases are renewed and free bots looked for. */
  renewEveryMs: number
  /** Most bots this replica runs at once; null = no limit. */
  maxBots: number | null
  /**
   * Share of the bots in proportion to this weight among the live weighted replicas (the roster); null =
   * take any free bot (up to maxBots). Optional so callers without replicas settings need not name it.
   */
  weight?: number | null
}

/** The roster bot-sharing replicas announce themselves in (with their weight). */
export const BOT_ROSTER = 'bots'

/**
 * How many of `bots` the replica `id` runs among `members` (the live weighted replicas, itself included):
 * bots in proportion to weight, where a member whose proportional part exceeds its cap (maxBots) gets its
 * cap and the rest is shared among the others the same way; rounded up, so the shares cover every bot
 * whenever the caps allow it.
 */
export function weightedShare(bots: number, id: string, members: ReadonlyArray<{ id: string; weight: number; cap: number | null }>): number {
  let open = members.filter((m) => m.weight > 0)
  let left = bots
  for (;;) {
    const total = open.reduce((n, m) => n + m.weight, 0)
    const capped = open.filter((m) => m.cap !== null && (left * m.weight) / total > m.cap)
    if (capped.length === 0) break
    for (const m of capped) left -= m.cap as number
    open = open.filter((m) => !capped.includes(m))
    if (left <= 0 || open.length === 0) break
  }
  const self = members.find((m) => m.id === id)
  if (!self) return bots
  if (!open.includes(self)) return Math.min(bots, self.cap ?? bots)
  const total = open.reduce((n, m) => n + m.weight, 0)
  // A tiny tolerance, so 6 × 1/3 is 2 and not 3 after floating-point rounding.
  return Math.max(0, Math.min(bots, Math.ceil((Math.max(0, left) * self.weight) / total - 1e-9)))
}

/** Starts and stops a bot on this replica (the runtime's channels). */
export interface BotRunner {
  start(botId: string): Promise<void>
  stop(botId: string): Promise<void>
}

/** Change of ownership, for metrics and logs. */
export type OwnershipListener = (event: { botId: string; held: boolean; replica: string }) => void

/** The longest delay a Node timer takes (longer ones fire after 1 ms with a warning); in-process leases last ~forever. */
const MAX_TIMER_MS = 2_147_483_647

/** Resolves `promise`, or rejects once `ms` passed (the timer is cleared either way). */
function bounded<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${Math.round(ms)} ms`)), ms) })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/** The lease key of a bot. */
export const botLeaseKey = (botId: string): string => `bot:${botId}`

/**
 * Which bots this replica runs: each bot account through a lease in the coordination port (Redis across
 * replicas, in-process when embedded), so one account is logged in by exactly one replica at a time.
 *
 * Every `renewEveryMs` a tick renews the leases held and tries to acquire free ones (up to `maxBots`, and
 * with a weight up to its share: bots × weight / total weight of the live weighted replicas, rounded up;
 * a replica above its share hands one bot back per tick).
 * A bot is started only after its lease was acquired, and stopped as soon as a renewal fails or the lease
 * may have run out (a renewal that cannot reach Redis counts as failed once the lease's own expiry
 * passes), so two replicas never run the same account: the old holder stops before the lease is free.
 * A dead replica's bots are free after `leaseTtlMs`; the next tick of a live replica takes them, so the
 * takeover bound is `leaseTtlMs + renewEveryMs` plus the bot's start.
 */
export class BotOwnership {
  private readonly held = new Map<string, Lease>()
  /** Bots being started or stopped (a tick never starts one twice). */
  private readonly busy = new Set<string>()
  private readonly listeners = new Set<OwnershipListener>()
  private timer?: NodeJS.Timeout
  private ticking: Promise<void> | null = null
  /** Bot starts still running from earlier rounds. */
  private readonly starting = new Set<Promise<void>>()
  /** Bots whose start (runner.start) has not finished yet. */
  private readonly launching = new Set<string>()
  private stopped = false

  constructor(private readonly deps: {
    leases: Leases
    replicaId: string
    bots: readonly string[]
    runner: BotRunner
    clock: Clock
    log: Logger
    settings: OwnershipSettings
    /** Where weighted replicas announce themselves (needed when `settings.weight` is set). */
    roster?: Roster
    /** Counts a failed call to the coordination port (metrics). */
    onError?: () => void
  }) {}

  /** Whether this replica holds the bot's lease and runs it. */
  holds(botId: string): boolean { return this.held.has(botId) }

  /** Bots held here. */
  get bots(): string[] { return [...this.held.keys()] }

  /** This replica's name in leases. */
  get replicaId(): string { return this.deps.replicaId }

  onChange(listener: OwnershipListener): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** Runs the first tick (bots free now start before this resolves), then ticks every renewEveryMs. */
  async start(): Promise<void> {
    this.ticking = this.round(true).finally(() => { this.ticking = null })
    await this.ticking
    if (this.stopped) return
    this.timer = setInterval(() => { void this.tick() }, this.deps.settings.renewEveryMs)
    this.timer.unref()
  }

  /** One round: renew what is held (stopping bots whose lease is lost), then acquire free bots. Never throws. */
  tick(): Promise<void> {
    // One tick at a time; a tick asked for while one runs is the running one.
    this.ticking ??= this.round().finally(() => { this.ticking = null })
    return this.ticking
  }

  /** Stops ticking, stops the bots held here and releases their leases (another replica takes them at once). */
  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) clearInterval(this.timer)
    await this.ticking
    await Promise.allSettled([...this.starting])
    if (this.weighted) await this.deps.roster?.leave(BOT_ROSTER, this.deps.replicaId).catch(() => undefined)
    for (const [botId, lease] of [...this.held]) {
      await this.drop(botId, 'replica stopping')
      try { await this.deps.leases.release(lease) } catch (error) { this.deps.log.warn('bot lease release failed (it expires by itself)', { bot: botId, error: errorText(error) }) }
    }
  }

  private async round(first = false): Promise<void> {
    const { leases, settings, clock, log, replicaId } = this.deps
    // Renewals run together, each bounded by what is left of its lease: a Redis that hangs (no answer,
    // no error) must not keep a bot running past its lease, when another replica may already hold it.
    const outcomes = await Promise.all([...this.held].map(async ([botId, lease]) => {
      try {
        // A lease that looks run out by the Clock port is still tried: the coordination store decides (it
        // refuses a lease another replica took), and a clock moved ahead at once (tests) must not drop a
        // lease the store still holds for us. The call itself stays bounded.
        const left = lease.expiresAt - clock.now() - Math.min(settings.renewEveryMs, settings.leaseTtlMs / 4)
        return { botId, renewed: await bounded(leases.renew(lease, settings.leaseTtlMs), Math.min(Math.max(left, settings.renewEveryMs / 2), MAX_TIMER_MS)) }
      } catch (error) {
        // Coordination unreachable: keep the bot while our lease cannot have run out yet.
        const left = lease.expiresAt - clock.now()
        log.warn('bot lease renewal failed', { bot: botId, leftMs: left, error: errorText(error) })
        this.deps.onError?.()
        return { botId, renewed: left > settings.renewEveryMs ? null : false }
      }
    }))
    for (const { botId, renewed } of outcomes) if (renewed === false && this.held.has(botId)) await this.drop(botId, 'lease lost')
    if (this.stopped) return
    const limit = await this.limit()
    if (limit === undefined) return
    // More than this replica's share (another replica joined, or weights changed): hand one bot back per
    // round — stopped here, lease released — so the others take it at their next round.
    if (limit !== null && this.held.size > limit) {
      const extra = [...this.held.keys()].filter((b) => !this.busy.has(b)).sort().pop()
      const lease = extra === undefined ? undefined : this.held.get(extra)
      if (extra !== undefined && lease) {
        await this.drop(extra, 'above this replica\'s weighted share')
        await leases.release(lease).catch((error: unknown) => log.warn('bot lease release failed (it expires by itself)', { bot: extra, error: errorText(error) }))
      }
      return
    }
    for (const botId of this.order()) {
      if (this.stopped) return
      if (this.held.has(botId) || this.busy.has(botId)) continue
      if (limit !== null && this.held.size >= limit) return
      let lease: Lease | null
      try {
        lease = await leases.acquire(botLeaseKey(botId), replicaId, settings.leaseTtlMs)
      } catch (error) {
        log.warn('bot lease acquisition failed', { bot: botId, error: errorText(error) })
        this.deps.onError?.()
        return
      }
      if (!lease) continue
      this.held.set(botId, lease)
      this.busy.add(botId)
      const starting = this.launch(botId, lease)
      // The first round (inside start()) waits for its bots; later ones let the start run on, so the
      // renewals of the next rounds are not held up by a slow login (the lease would lapse meanwhile).
      if (first) await starting
      else {
        this.starting.add(starting)
        void starting.finally(() => this.starting.delete(starting))
      }
    }
  }

  private get weighted(): boolean { return this.deps.settings.weight != null && this.deps.roster !== undefined }

  /**
   * How many bots this replica may run now: maxBots, and with a weight its share among the live weighted
   * replicas (announcing itself first). null = no limit; undefined = the roster cannot be reached (take
   * nothing new this round; bots held are kept as their leases decide).
   */
  private async limit(): Promise<number | null | undefined> {
    const { settings, roster, replicaId, log } = this.deps
    const weight = settings.weight
    if (weight == null || !roster) return settings.maxBots
    try {
      await roster.announce(BOT_ROSTER, replicaId, weight, settings.leaseTtlMs, settings.maxBots)
      const members = await roster.members(BOT_ROSTER)
      const self = { id: replicaId, weight, cap: settings.maxBots }
      const share = weightedShare(this.deps.bots.length, replicaId, [...members.filter((m) => m.id !== replicaId), self])
      return settings.maxBots === null ? share : Math.min(share, settings.maxBots)
    } catch (error) {
      log.warn('replica roster unreachable: no new bots this round', { error: errorText(error) })
      this.deps.onError?.()
      return undefined
    }
  }

  /**
   * Starts a bot whose lease was just acquired; releases the lease when the start fails. A lease given up
   * while the start ran (drop()) stops the bot again once the start finished: a stop that arrived in the
   * middle of a start may not hold, and the bot must not run here without its lease.
   */
  private async launch(botId: string, lease: Lease): Promise<void> {
    const { leases, log, replicaId } = this.deps
    this.launching.add(botId)
    try {
      log.info('bot lease acquired: starting the bot here', { bot: botId, replica: replicaId })
      await this.deps.runner.start(botId)
      if (this.held.get(botId) === lease) this.emit(botId, true)
      else {
        log.warn('bot lease given up while the bot was starting: stopping it again now that its start finished', { bot: botId, replica: replicaId })
        try { await this.deps.runner.stop(botId) } catch (error) { log.error('bot stop failed', { bot: botId, error: errorText(error) }) }
      }
    } catch (error) {
      log.error('bot start failed; lease released', { bot: botId, error: errorText(error) })
      if (this.held.get(botId) === lease) this.held.delete(botId)
      await leases.release(lease).catch(() => undefined)
    } finally {
      this.launching.delete(botId)
      this.busy.delete(botId)
    }
  }

  /** Bots in an order that differs per replica, so replicas starting together first try different bots. */
  private order(): string[] {
    const bots = [...this.deps.bots]
    if (bots.length === 0) return bots
    let h = 0
    for (const ch of this.deps.replicaId) h = (h * 31 + ch.charCodeAt(0)) >>> 0
    const k = h % bots.length
    return [...bots.slice(k), ...bots.slice(0, k)]
  }

  private async drop(botId: string, reason: string): Promise<void> {
    this.held.delete(botId)
    this.busy.add(botId)
    this.deps.log.warn('bot lease given up: stopping the bot here', { bot: botId, reason, replica: this.deps.replicaId })
    try {
      await this.deps.runner.stop(botId)
    } catch (error) {
      this.deps.log.error('bot stop failed', { bot: botId, error: errorText(error) })
    } finally {
      // A start still running keeps the bot busy (no second start alongside it); launch() ends that.
      if (!this.launching.has(botId)) this.busy.delete(botId)
      this.emit(botId, false)
    }
  }

  private emit(botId: string, held: boolean): void {
    for (const listener of this.listeners) {
      try { listener({ botId, held, replica: this.deps.replicaId }) } catch { /* a listener's own fault */ }
    }
  }
}
