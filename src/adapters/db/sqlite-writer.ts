import { Worker } from 'node:worker_threads'
import type * as WorkerThreads from 'node:worker_threads'
import type BetterSqlite3 from 'better-sqlite3'
import type { DataSource } from 'typeorm'
import { serialized } from './transaction'

/** A row of column values in a fixed column order (same as adapters/db/sql's Row). */
type Values = Array<string | number | null>

/**
 * One statement of a write plan: `head VALUES (…)… tail` for every row (multi-row insert forms), or one
 * statement run once per parameter row.
 */
export type PlanOp =
  | { kind: 'rows'; head: string; width: number; tail: string; rows: Values[] }
  | { kind: 'each'; sql: string; rows: Values[] }

/** Rows per reused multi-row statement in the writer thread (as the in-thread writer in adapters/db/sql). */
const BATCH_ROWS = 50

interface Reply { id: number; ok: boolean; message?: string; code?: string }

/** The parts of a better-sqlite3 connection a plan runner uses. */
interface PlanConnection {
  prepare(sql: string): { run(params: unknown[]): unknown }
  transaction(fn: (ops: PlanOp[]) => void): { (ops: PlanOp[]): void; immediate(ops: PlanOp[]): void }
}

/**
 * Runs plans on one connection, each in one transaction: multi-row statements of `batchRows` rows prepared
 * once and reused (bound from one reused array), the remainder through the one-row form. Self-contained:
 * its text also runs in the writer thread.
 */
function planRunner(db: PlanConnection, batchRows: number): (ops: PlanOp[], immediate: boolean) => void {
  const statements = new Map<string, { run(params: unknown[]): unknown }>()
  const prepare = (sql: string): { run(params: unknown[]): unknown } => {
    let s = statements.get(sql)
    if (!s) statements.set(sql, (s = db.prepare(sql)))
    return s
  }
  const placeholders = (count: number, width: number): string => new Array<string>(count).fill(`(${new Array<string>(width).fill('?').join(',')})`).join(',')
  const exec = (op: PlanOp): void => {
    if (op.kind === 'each') {
      const s = prepare(op.sql)
      for (const row of op.rows) s.run(row)
      return
    }
    let i = 0
    if (op.rows.length >= batchRows) {
      const batch = prepare(`${op.head} VALUES ${placeholders(batchRows, op.width)}${op.tail}`)
      const params = new Array<string | number | null>(batchRows * op.width)
      for (; i + batchRows <= op.rows.length; i += batchRows) {
        let k = 0
        for (let r = i; r < i + batchRows; r++) {
          const row = op.rows[r] as Values
          for (let c = 0; c < op.width; c++) params[k++] = row[c] as string | number | null
        }
        batch.run(params)
      }
    }
    if (i < op.rows.length) {
      const one = prepare(`${op.head} VALUES ${placeholders(1, op.width)}${op.tail}`)
      for (; i < op.rows.length; i++) one.run(op.rows[i] as Values)
    }
  }
  const run = db.transaction((ops: PlanOp[]) => { for (const op of ops) exec(op) })
  return (ops, immediate) => { if (immediate) run.immediate(ops); else run(ops) }
}

/**
 * The writer thread's program. Runs in a worker_threads worker (its text is evaluated there with the plan
 * runner's, so it uses nothing else from this module's scope): owns a second better-sqlite3 connection to
 * the same WAL database and runs each plan it receives in one BEGIN IMMEDIATE transaction — all
 * statements or none.
 */
function writerThread(runner: typeof planRunner): void {
  // Evaluated in the worker, where require is how modules are reached (types only from the imports above).
  const threads = require('node:worker_threads') as typeof WorkerThreads
  const data = threads.workerData as { driver: string; file: string; batchRows: number; busyTimeoutMs: number }
  const port = threads.parentPort
  if (!port) return
  // The driver's resolved path, handed over by the main thread.
  const Database = require(data.driver) as typeof BetterSqlite3
  const db = new Database(data.file)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  db.pragma(`busy_timeout = ${data.busyTimeoutMs}`)
  const run = runner(db as unknown as PlanConnection, data.batchRows)
  port.on('message', (m: { id: number; ops?: PlanOp[]; close?: true }) => {
    if (m.close) {
      db.close()
      port.close()
      return
    }
    try {
      run(m.ops ?? [], true)
      port.postMessage({ id: m.id, ok: true } satisfies Reply)
    } catch (error) {
      const e = error as { message?: string; code?: string }
      port.postMessage({ id: m.id, ok: false, message: String(e.message ?? error), code: typeof e.code === 'string' ? e.code : undefined } satisfies Reply)
    }
  })
}

/**
 * A worker thread owning a second connection to a file SQLite database (WAL), to which write plans are
 * shipped: the B-tree work of a flush runs there, not on the event loop. A plan's promise settles when the
 * thread committed it (or rolled all of it back: the error carries SQLite's message and code).
 */
export class SqliteWriter {
  private readonly worker: Worker
  private nextId = 1
  private readonly waiting = new Map<number, { resolve: () => void; reject: (e: Error) => void }>()
  private readonly answered = new Set<Promise<void>>()
  private dead: Error | null = null
  private draining = false
  private shut = false
  private closing: Promise<void> | null = null
  /** Plans committed by the thread since it started. */
  committed = 0

  constructor(file: string, busyTimeoutMs = 5000) {
    this.worker = new Worker(`(${writerThread.toString()})(${planRunner.toString()})`, {
      eval: true,
      workerData: { driver: require.resolve('better-sqlite3'), file, batchRows: BATCH_ROWS, busyTimeoutMs },
    })
    // Only a plan in flight keeps the process alive (ref'd while waiting, see run).
    this.worker.unref()
    this.worker.on('message', (reply: Reply) => {
      const w = this.waiting.get(reply.id)
      if (!w) return
      this.waiting.delete(reply.id)
      if (this.waiting.size === 0) this.worker.unref()
      if (reply.ok) {
        this.committed++
        w.resolve()
      } else w.reject(Object.assign(new Error(reply.message ?? 'sqlite writer failed'), reply.code ? { code: reply.code } : {}))
    })
    this.worker.on('error', (error) => this.fail(error))
    this.worker.on('exit', () => this.fail(new Error('sqlite writer thread exited')))
  }

  /** Whether new writes should go to the thread (false once it crashed or is being closed: they run in-thread). */
  get alive(): boolean { return this.dead === null && !this.draining }

  /** Whether a plan handed over now is sent to the thread (false once it crashed or ended). */
  get accepting(): boolean { return this.dead === null && !this.shut }

  /** Runs the plan in one transaction in the writer thread; resolves once committed. */
  run(ops: PlanOp[]): Promise<void> {
    if (this.dead) return Promise.reject(this.dead)
    if (this.shut) return Promise.reject(new Error('sqlite writer thread closed'))
    const id = this.nextId++
    const done = new Promise<void>((resolve, reject) => {
      if (this.waiting.size === 0) this.worker.ref()
      this.waiting.set(id, { resolve, reject })
      this.worker.postMessage({ id, ops })
    })
    const settled = done.then(() => undefined, () => undefined)
    this.answered.add(settled)
    void settled.then(() => this.answered.delete(settled))
    return done
  }

  /** Plans sent and not answered yet. */
  get inFlight(): number { return this.waiting.size }

  /**
   * Stops taking new plans (they run in-thread from now on), waits for `queued` (plans already accepted
   * and waiting for their turn) and every plan sent, then closes the thread's connection and ends it.
   */
  close(queued: () => Promise<void> = () => Promise.resolve()): Promise<void> {
    this.draining = true
    this.closing ??= (async () => {
      await queued()
      while (this.answered.size > 0) await Promise.all([...this.answered])
      if (this.dead) return
      const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()))
      this.shut = true
      this.worker.ref()
      this.worker.postMessage({ id: 0, close: true })
      await exited
    })()
    return this.closing
  }

  private fail(error: Error): void {
    this.dead ??= error
    for (const w of this.waiting.values()) w.reject(error)
    this.waiting.clear()
  }
}

const writers = new WeakMap<DataSource, SqliteWriter>()

/**
 * Starts a writer thread for a file SQLite data source (WAL): from now on its non-transactional bulk
 * writes (adapters/db/sql) and FeatureStore.write plans run there. Returns null for MySQL and ':memory:'
 * (an in-memory database cannot be shared with another connection), which keep writing in-thread.
 */
export function startSqliteWriter(ds: DataSource): SqliteWriter | null {
  if (ds.options.type !== 'better-sqlite3') return null
  const file = String(ds.options.database)
  if (file === ':memory:' || file === '') return null
  const writer = new SqliteWriter(file)
  writers.set(ds, writer)
  return writer
}

/** Drains and ends a data source's writer thread (before the data source is destroyed). */
export async function stopSqliteWriter(ds: DataSource): Promise<void> {
  const writer = writers.get(ds)
  if (!writer) return
  // Plans already queued behind the data source's transactions are sent before the thread ends.
  await writer.close(() => serialized(ds, () => Promise.resolve()))
  writers.delete(ds)
}

/** The live writer thread of a data source, if any. */
export function writerOf(ds: DataSource): SqliteWriter | null {
  const writer = writers.get(ds)
  return writer && writer.alive ? writer : null
}

/**
 * Runs a plan on the writer thread, in turn with the data source's transactions on the main connection
 * (adapters/db/transaction): a main-thread transaction that read before writing would otherwise find its
 * snapshot outdated by the thread's commit (SQLITE_BUSY_SNAPSHOT), and nothing waits synchronously for a
 * lock the thread holds.
 */
export function submitPlan(ds: DataSource, writer: SqliteWriter, ops: PlanOp[]): Promise<void> {
  return serialized(ds, async () => {
    // Handed over as the thread ended (stop, crash): on the main connection, in its turn.
    if (!writer.accepting) return runHere(ds, ops)
    return writer.run(ops)
  })
}

const runners = new WeakMap<object, (ops: PlanOp[], immediate: boolean) => void>()

/** Runs a plan in one transaction on the data source's own (main-thread) connection. */
function runHere(ds: DataSource, ops: PlanOp[]): void {
  const connection = (ds.driver as unknown as { databaseConnection: PlanConnection }).databaseConnection
  let run = runners.get(connection)
  if (!run) runners.set(connection, (run = planRunner(connection, BATCH_ROWS)))
  run(ops, false)
}
