import type { DataSource } from 'typeorm'
import type { Config } from '../config/config.schema'
import type { ActionSink, GroupInfo, GroupRecord } from '../kernel/context'
import type { FeatureDefinition } from '../kernel/feature'
import type { Logger } from '../kernel/logger'
import type { Clock } from '../ports/clock'
import type { CoordinationPorts } from '../ports/ports'
import type { Random } from '../ports/random'
import type { RuleStore } from './rules'
import type { OutboundListener } from '../kernel/outbound'

/** Contributes a section to a group's detail view (e.g. activity of the last 7 days). */
export type GroupSummaryContributor = (group: GroupInfo) => Promise<Record<string, unknown>>

/** What the composition root hands every feature. */
export interface FeatureDeps {
  config: Config
  db: DataSource
  ports: CoordinationPorts
  clock: Clock
  random: Random
  log: Logger
  outbound: ActionSink
  rules: RuleStore
  /** The stored group (timezone, owner, labels, size), or null — the one lookup features use for routes and jobs. */
  findGroup(groupId: string): Promise<GroupRecord | null>
  /** Sections other features contribute to a group's detail (filled after every feature is set up). */
  groupSummaries(group: GroupInfo): Promise<Record<string, unknown>>
  /** Hears the outcome of every outbound action (e.g. a removal that failed); returns a disposer. */
  onOutboundOutcome(listener: OutboundListener): () => void
  /** Registers this feature's contribution to group details. */
  contributeGroupSummary(name: string, contributor: GroupSummaryContributor): void
}

/** Declares a feature against the application's dependencies. */
export function defineFeature<R>(definition: FeatureDefinition<FeatureDeps, R>): FeatureDefinition<FeatureDeps, R> {
  return definition
}
