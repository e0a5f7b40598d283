import type { ZodType } from 'zod'
import type { MessageContext } from './context'
import type { DomainEvent } from './events'
import type { Middleware } from './pipeline'
import type { RouteDefinition } from './routes'
import type { GroupDirectory } from './processor'

/** A scheduled job: a cron expression and what to run; each fire time runs once across replicas. */
export interface JobDefinition {
  name: string
  cron: string
  /** IANA timezone for the cron expression (default the server's). */
  timezone?: string
  run(fireTime: Date): Promise<void>
}

/** What a feature contributes once set up. Every part is optional. */
export interface FeatureInstance {
  middleware?: Middleware<MessageContext>
  /** Receives domain events (adapter events and events emitted by middleware), in order per group. */
  onEvent?: (event: DomainEvent) => Promise<void> | void
  routes?: RouteDefinition[]
  jobs?: JobDefinition[]
  /** Hands over buffered outbound work (e.g. batched answers) before the queue drains at shutdown. */
  drain?: () => Promise<void>
  /** Writes buffered state (called on the flush interval and at shutdown). */
  flush?: () => Promise<void>
  /** The group/member directory the message path reads (provided by the groups feature). */
  directory?: GroupDirectory
  /** Releases resources at shutdown (after the final flush). */
  stop?: () => Promise<void>
}

/**
 * One capability, self-describing: its name, its slice of the group configuration, its tables and how
 * to set it up. `Deps` is the composition root's bundle of services.
 */
export interface FeatureDefinition<Deps, R = unknown> {
  name: string
  /** Schema of this feature's slice of a group's rules; must accept `{}` and fill defaults. */
  rules?: ZodType<R>
  /** TypeORM entity classes (constructors) the feature owns. */
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- TypeORM takes entity constructors of any shape
  entities?: Function[]
  setup(deps: Deps, rules: RulesAccessor<R>): FeatureInstance | Promise<FeatureInstance>
}

/** Typed access to a feature's validated rule slice from a context. */
export type RulesAccessor<R> = (ctx: Pick<MessageContext, 'rules'>) => R

/** Builds the typed accessor for a feature's rule slice (slices are validated when loaded). */
export function rulesAccessor<R>(name: string): RulesAccessor<R> {
  return (ctx) => ctx.rules.slice(name) as R
}
