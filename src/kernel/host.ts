import type { Clock } from '../ports/clock'
import type { Random } from '../ports/random'
import type { GroupInfo, IncomingMessage } from './context'
import { GROUP_SUMMARIES, type GroupSummaries } from './directory'
import { CHANNEL_EVENTS, OutboundFinished, type EventBase } from './events'
import type { BatchConsumer } from './event-bus'
import type { AnyFeature, Coordination, EventEmitter, FeatureInstance, JobDefinition, ServiceKey } from './feature'
import { errorText, type Logger } from './logger'
import type { Outbound } from './outbound-service'
import type { NamedMiddleware } from './pipeline'
import type { MessageContext } from './context'
import type { RouteDefinition } from './routes'
import type { RuleStore } from './rules'
import type { DataClass } from './personal-data'

/** A feature once set up. */
export interface LiveFeature {
  name: string
  definition: AnyFeature
  instance: FeatureInstance
}

/** An inline consumer: in per-group order, awaited before the group's next message. */
export interface InlineConsumer {
  name: string
  types: ReadonlySet<string>
  handle(event: EventBase): Promise<void> | void
}

/** What the composition root hands the host. */
export interface HostOptions<Store, Cfg> {
  features: readonly AnyFeature<Store, Cfg>[]
  config: Cfg
  clock: Clock
  random: Random
  log: Logger
  coordination: Coordination
  /** Each feature's own storage (its declared entities only). */
  storeFor(feature: AnyFeature<Store, Cfg>): Store
  rules: RuleStore
  outbound: Outbound
  /** Where events emitted outside a message go (the processor's ordered event path). */
  events: EventEmitter
  /** A member's pseudonym in this deployment. */
  pseudonym(memberId: string): string
  /** Days a data class is kept for a group (the retention service). */
  retentionDays(dataClass: DataClass, groupId: string): Promise<number | null>
}

/** Event types the kernel itself emits (channels, the outbound queue). */
const KERNEL_EVENTS = new Set<string>([...CHANNEL_EVENTS.map((k) => k.type), OutboundFinished.type])

/**
 * Sets up the registry: checks it (unique names, every injected service provided, every event type
 * emitted by one declarer), runs each feature's `setup` after the providers of what it injects, and
 * collects what they contribute. The pipeline keeps the registry's order.
 */
export class FeatureHost {
  readonly live: LiveFeature[] = []
  private readonly services = new Map<string, unknown>()
  /** Which feature declared each event type it emits. */
  readonly emitters = new Map<string, string>()

  private constructor(private readonly options: HostOptions<unknown, unknown>) {}

  /** Checks the registry and sets every feature up. */
  static async start<Store, Cfg>(options: HostOptions<Store, Cfg>): Promise<FeatureHost> {
    const host = new FeatureHost(options as HostOptions<unknown, unknown>)
    await host.setup()
    return host
  }

  private async setup(): Promise<void> {
    const { features, log } = this.options
    const names = new Set<string>()
    for (const f of features) {
      if (names.has(f.name)) throw new Error(`feature "${f.name}" registered twice`)
      names.add(f.name)
      for (const kind of f.events?.emits ?? []) {
        const other = this.emitters.get(kind.type)
        if (other || KERNEL_EVENTS.has(kind.type)) throw new Error(`event "${kind.type}" is emitted by ${other ? `"${other}"` : 'the kernel'} and "${f.name}": one declarer per event type`)
        this.emitters.set(kind.type, f.name)
      }
    }
    const summaries: GroupSummaries = { of: (group) => this.summaries(group) }
    this.services.set(GROUP_SUMMARIES.name, summaries)
    const order = setupOrder(features, new Set(this.services.keys()))
    const instances = new Map<string, FeatureInstance>()
    for (const def of order) {
      const provided = new Set<string>()
      const injected = new Set((def.inject ?? []).map((k) => k.name))
      const declared = new Set((def.provides ?? []).map((k) => k.name))
      const app = {
        name: def.name,
        log: log.child({ feature: def.name }),
        clock: this.options.clock,
        random: this.options.random,
        config: def.config ? def.config(this.options.config) : undefined,
        store: this.options.storeFor(def),
        coordination: this.options.coordination,
        rules: this.options.rules.featureRules(def.name),
        outbound: this.options.outbound,
        events: this.options.events,
        pseudonym: (memberId: string): string => this.options.pseudonym(memberId),
        retentionDays: (dataClass: DataClass, groupId: string): Promise<number | null> => this.options.retentionDays(dataClass, groupId),
        use: <S>(key: ServiceKey<S>): S => {
          if (!injected.has(key.name)) throw new Error(`feature "${def.name}" uses service "${key.name}" without declaring it in inject`)
          if (!this.services.has(key.name)) throw new Error(`service "${key.name}" is not provided`)
          return this.services.get(key.name) as S
        },
        provide: <S>(key: ServiceKey<S>, service: S): void => {
          if (!declared.has(key.name)) throw new Error(`feature "${def.name}" provides service "${key.name}" without declaring it in provides`)
          this.services.set(key.name, service)
          provided.add(key.name)
        },
      }
      const instance = await def.setup(app)
      if (instance.rules) this.options.rules.attach(def.name, instance.rules)
      instances.set(def.name, instance)
      for (const name of declared) if (!provided.has(name)) throw new Error(`feature "${def.name}" declares service "${name}" but did not provide it in setup`)
    }
    for (const def of features) this.live.push({ name: def.name, definition: def, instance: instances.get(def.name) as FeatureInstance })
  }

  /** A service by key (the composition root reads the directory and access services). */
  service<S>(key: ServiceKey<S>): S {
    if (!this.services.has(key.name)) throw new Error(`service "${key.name}" is not provided (is its feature registered?)`)
    return this.services.get(key.name) as S
  }

  /** Whether some feature provides `key`. */
  has(key: ServiceKey<unknown>): boolean { return this.services.has(key.name) }

  /** The message path, in registry order. */
  middleware(): NamedMiddleware<MessageContext>[] {
    return this.live.flatMap((f) => (f.instance.middleware ? [{ name: f.name, fn: f.instance.middleware }] : []))
  }

  /** Inline event consumers, in registry order. */
  /** Whether any feature calls the message one of its commands (kept when a full group sheds). */
  async isCommand(message: IncomingMessage): Promise<boolean> {
    for (const f of this.live) if (f.instance.isCommand && await f.instance.isCommand(message)) return true
    return false
  }

  inlineConsumers(): InlineConsumer[] {
    return this.live.flatMap((f) => {
      const handle = f.instance.onEvent
      if (!handle) return []
      return [{ name: f.name, types: consumedTypes(f), handle: (e: EventBase) => handle(e) }]
    })
  }

  /** Batched event consumers. */
  batchConsumers(): BatchConsumer[] {
    return this.live.flatMap((f) => {
      const handle = f.instance.onEvents
      if (!handle) return []
      return [{ name: f.name, types: consumedTypes(f), handle: (events: readonly EventBase[]) => handle(events) }]
    })
  }

  /** Every feature's admin routes. */
  routes(): RouteDefinition[] { return this.live.flatMap((f) => f.instance.routes ?? []) }

  /** Every feature's scheduled jobs. */
  jobs(): JobDefinition[] { return this.live.flatMap((f) => f.instance.jobs ?? []) }

  /** Whether an event type may be emitted (declared by a feature or the kernel). */
  declared(type: string): boolean { return this.emitters.has(type) || KERNEL_EVENTS.has(type) }

  /** Calls `step` on every feature that has it, in registry order; failures are logged (and passed to `onError`), never thrown. Resolves whether all succeeded. */
  async each(step: 'flush' | 'drain' | 'stop', log: Logger, onError?: (feature: string, error: unknown) => void, onDone?: (feature: string, result: unknown) => void): Promise<boolean> {
    let ok = true
    for (const f of this.live) {
      const fn = f.instance[step]
      if (!fn) continue
      try {
        const result: unknown = await fn()
        onDone?.(f.name, result)
      } catch (error) {
        ok = false
        onError?.(f.name, error)
        log.error(`feature ${step} failed`, { feature: f.name, error: errorText(error) })
      }
    }
    return ok
  }

  private async summaries(group: GroupInfo): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {}
    for (const f of this.live) if (f.instance.summary) Object.assign(out, await f.instance.summary(group))
    return out
  }
}

/** Event types a feature consumes. */
function consumedTypes(f: LiveFeature): ReadonlySet<string> {
  return new Set((f.definition.events?.consumes ?? []).map((k) => k.type))
}

/** The registry in an order where every feature comes after the providers of the services it injects. */
export function setupOrder<F extends Pick<AnyFeature, 'name' | 'inject' | 'provides'>>(features: readonly F[], core: ReadonlySet<string>): F[] {
  const provider = new Map<string, F>()
  for (const f of features) {
    for (const key of f.provides ?? []) {
      const other = provider.get(key.name)
      if (other || core.has(key.name)) throw new Error(`service "${key.name}" provided twice (${other ? `"${other.name}"` : 'the kernel'} and "${f.name}")`)
      provider.set(key.name, f)
    }
  }
  const out: F[] = []
  const state = new Map<F, 'visiting' | 'done'>()
  const visit = (f: F, path: string[]): void => {
    if (state.get(f) === 'done') return
    if (state.get(f) === 'visiting') throw new Error(`services form a cycle: ${[...path, f.name].join(' → ')}`)
    state.set(f, 'visiting')
    for (const key of f.inject ?? []) {
      if (core.has(key.name)) continue
      const p = provider.get(key.name)
      if (!p) throw new Error(`feature "${f.name}" injects service "${key.name}", which no registered feature provides`)
      visit(p, [...path, f.name])
    }
    state.set(f, 'done')
    out.push(f)
  }
  for (const f of features) visit(f, [])
  return out
}
