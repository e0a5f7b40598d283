import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { RetentionRun } from '../../kernel/retention'

/**
 * Prometheus metrics of one replica (prom-client), served at /metrics. The runtime feeds them from the
 * places that already observe the work: message results, outbound outcomes and waits, flushes, lease
 * changes; gauges (queue depth, bot online, lease held) are read when scraped. Names are listed in the
 * README ("Metrics"). This is the only module that imports 'prom-client'.
 */
export class Metrics {
  readonly registry = new Registry()
  readonly messages: Counter<'result'>
  readonly outbound: Counter<'kind' | 'status'>
  readonly outboundWaits: Counter<'reason'>
  readonly flushSeconds: Histogram
  readonly flushErrors: Counter
  readonly leaseChanges: Counter<'bot' | 'held'>
  readonly backendErrors: Counter<'backend' | 'op'>
  readonly featureSeconds: Histogram<'feature'>
  readonly flushedRows: Counter<'feature'>
  readonly retentionRows: Counter<'class' | 'action'>
  readonly retentionRuns: Counter<'class' | 'status'>
  readonly retentionLastRun: Gauge<'class'>

  constructor(readonly deps: {
    replica: string
    /** Messages and events waiting or running in the per-group queues: in all, and in the longest one. */
    messageQueue: () => { depth: number; deepest: number }
    /** Whether the database answers, as the message path sees it. */
    databaseUp: () => boolean
    queueDepth: () => number
    queueActive: () => number
    /** Bots known to this replica: whether each is online here and whether its lease is held here. */
    bots: () => Array<{ bot: string; online: boolean; held: boolean }>
  }) {
    const registers = [this.registry]
    this.registry.setDefaultLabels({ replica: deps.replica })
    collectDefaultMetrics({ register: this.registry, prefix: 'qunyun_process_' })
    this.messages = new Counter({ name: 'qunyun_messages_total', help: 'Messages from the bots by result: processed, duplicate (deduped), failed', labelNames: ['result'], registers })
    this.outbound = new Counter({ name: 'qunyun_outbound_actions_total', help: 'Outbound actions finished here, by kind and status (sent, failed, expired)', labelNames: ['kind', 'status'], registers })
    this.outboundWaits = new Counter({ name: 'qunyun_outbound_waits_total', help: 'Times an outbound action had to wait, by reason (rate_limit, offline, retry)', labelNames: ['reason'], registers })
    this.flushSeconds = new Histogram({ name: 'qunyun_flush_duration_seconds', help: 'Duration of one flush of buffered counters, logs and dedupe marks', buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers })
    this.flushErrors = new Counter({ name: 'qunyun_flush_errors_total', help: 'Flushes that failed (the rows stay buffered and are retried)', registers })
    this.leaseChanges = new Counter({ name: 'qunyun_bot_lease_changes_total', help: 'Bot leases acquired (held="1") or given up (held="0") by this replica', labelNames: ['bot', 'held'], registers })
    this.backendErrors = new Counter({ name: 'qunyun_backend_errors_total', help: 'Failed calls to the database or Redis seen by the runtime, by backend (database, redis) and operation (connection, lease, dedupe, message, flush, readiness)', labelNames: ['backend', 'op'], registers })
    this.featureSeconds = new Histogram({ name: 'qunyun_feature_duration_seconds', help: 'Time each feature spent on one message, its own part only (what runs after its next() is not counted)', labelNames: ['feature'], buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2], registers })
    this.flushedRows = new Counter({ name: 'qunyun_flushed_rows_total', help: 'Rows written by the periodic flush of buffered state, by feature (features that report a count)', labelNames: ['feature'], registers })
    this.retentionRows = new Counter({ name: 'qunyun_retention_rows_total', help: 'Rows purged by retention on this replica, by data class and action (deleted, cleared: text columns emptied)', labelNames: ['class', 'action'], registers })
    this.retentionRuns = new Counter({ name: 'qunyun_retention_runs_total', help: 'Retention purge runs (not dry runs) on this replica, by data class and status (done, failed)', labelNames: ['class', 'status'], registers })
    this.retentionLastRun = new Gauge({ name: 'qunyun_retention_last_run_timestamp_seconds', help: 'When the last retention purge of a data class finished on this replica (unix seconds)', labelNames: ['class'], registers })
    const self = this
    new Gauge({ name: 'qunyun_message_queue_depth', help: 'Messages and events waiting or running in the per-group queues of this replica', registers, collect() { this.set(self.deps.messageQueue().depth) } })
    new Gauge({ name: 'qunyun_message_queue_deepest_group', help: 'Messages and events waiting or running in the longest group queue (compare with pipeline.maxQueuePerGroup)', registers, collect() { this.set(self.deps.messageQueue().deepest) } })
    new Gauge({ name: 'qunyun_database_up', help: 'Whether the database answers, as the message path sees it (1/0); 0 while messages wait for it', registers, collect() { this.set(self.deps.databaseUp() ? 1 : 0) } })
    new Gauge({ name: 'qunyun_outbound_queue_depth', help: 'Outbound actions queued or in progress on this replica (including those waiting for a login)', registers, collect() { this.set(self.deps.queueDepth()) } })
    new Gauge({ name: 'qunyun_outbound_queue_active', help: 'Outbound actions that can progress now (not waiting for a login) plus those being stored', registers, collect() { this.set(self.deps.queueActive()) } })
    new Gauge({
      name: 'qunyun_bot_online', help: 'Whether the bot is logged in on this replica (1/0)', labelNames: ['bot'], registers,
      collect() { this.reset(); for (const b of self.deps.bots()) this.set({ bot: b.bot }, b.online ? 1 : 0) },
    })
    new Gauge({
      name: 'qunyun_bot_lease_held', help: 'Whether this replica holds the bot\'s lease, i.e. is its owner (1/0)', labelNames: ['bot'], registers,
      collect() { this.reset(); for (const b of self.deps.bots()) this.set({ bot: b.bot }, b.held ? 1 : 0) },
    })
  }

  /** Counts one retention purge run (dry runs change nothing and are not counted). */
  retentionRun(run: RetentionRun): void {
    if (run.dryRun) return
    this.retentionRows.inc({ class: run.dataClass, action: 'deleted' }, run.deleted)
    this.retentionRows.inc({ class: run.dataClass, action: 'cleared' }, run.cleared)
    this.retentionRuns.inc({ class: run.dataClass, status: run.status })
    this.retentionLastRun.set({ class: run.dataClass }, Math.round(run.finishedAt / 1000))
  }

  /** The exposition text and its content type. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() }
  }
}
