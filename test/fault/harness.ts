/**
 * Fault harness: N runtimes as separate processes (test/fault/replica.ts) on one MySQL database and one
 * Redis key prefix. The harness plays WeCom: it delivers a scripted stream of messages to the replica
 * that runs each bot (every message 1–4 times, copies spread over time, groups interleaved), can kill -9
 * a replica, and counts every side effect — on the WeCom side (what each account did) and in the
 * database (check-ins, outbound rows, activity counters) — against the expected set.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { createConnection } from 'mysql2/promise'
import type { DataSource } from 'typeorm'
import type { PlatformAction } from '../../src/adapters/wechaty/recording-puppet'
import { roomId } from '../../src/adapters/wechaty/sim-world'
import { databaseSchema, dataSourceOptions, openDatabase } from '../../src/adapters/db/data-source'
import { deleteRedisKeysWithPrefix } from '../../src/adapters/redis/redis-ports'
import { deepMerge, loadConfig } from '../../src/config/load'
import { FEATURES } from '../../src/features'
import type { FaultProxy } from './proxy'

export interface FaultGroup { id: string; name: string; members: Array<{ id: string; name: string }> }

/** One scripted message and how many times WeCom delivers it. */
export interface ScriptedMessage { id: string; bot: string; group: string; member: string; text: string; copies: number }

interface Replica {
  name: string
  child: ChildProcess
  alive: boolean
  stderr: string
  /** Port of its admin API (readiness, metrics) when the harness runs it with HTTP. */
  httpPort?: number
}

/** A seeded PRNG (mulberry32), so a scenario's stream is the same on every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

export class FaultHarness {
  readonly replicas: Replica[] = []
  /** Every platform action, with the replica that performed it. */
  readonly actions: Array<{ replica: string; bot: string; action: PlatformAction; at: number }> = []
  /** Which replica runs each bot, as last reported (null while nobody does). */
  readonly holder = new Map<string, string | null>()
  readonly readyAt: Array<{ bot: string; replica: string; at: number }> = []
  /** Every copy delivered: message id → replicas it went to. */
  readonly deliveries = new Map<string, string[]>()
  /** Copies waiting for a replica that runs their bot (returned ones included). */
  private readonly backlog: ScriptedMessage[] = []
  private redeliverTimer?: NodeJS.Timeout
  /** Copies a replica returned because it no longer ran the bot when they arrived (WeCom redelivers those to the next session). */
  returned = 0
  private readonly byId = new Map<string, ScriptedMessage>()
  private dbUrl = ''
  private dbName = ''
  private readonly prefix: string

  constructor(readonly options: {
    bots: Record<string, FaultGroup[]>; redisUrl: string; dbUrl: string; replicaConfig?: Record<string, unknown>
    /** Proxies the replicas reach MySQL / Redis through (the harness itself connects directly). */
    proxies?: { db?: FaultProxy; redis?: FaultProxy }
    /** Whether replicas serve their admin API (on an ephemeral port) for /readyz and /metrics. */
    http?: boolean
  }) {
    this.prefix = `qyfault:${process.pid}:${Date.now().toString(36)}:`
  }

  /**
   * Creates the database and runs the migrations once (replicas then start on a migrated schema);
   * `seed` writes what a scenario needs before any replica starts (group rules, an open lottery).
   * FAULT_DB_PREFIX names the databases (default qunyun_fault), so parallel runs can tell theirs apart.
   */
  async setup(seed?: (db: DataSource) => Promise<void>): Promise<void> {
    const url = new URL(this.options.dbUrl)
    this.dbName = `${process.env.FAULT_DB_PREFIX ?? 'qunyun_fault'}_${process.pid}_${Date.now().toString(36)}`.slice(0, 64)
    const admin = await createConnection({ host: url.hostname, port: Number(url.port || 3306), user: decodeURIComponent(url.username), password: decodeURIComponent(url.password) })
    await admin.query(`CREATE DATABASE \`${this.dbName}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`)
    await admin.end()
    url.pathname = `/${this.dbName}`
    this.dbUrl = url.toString()
    const db = await openDatabase(dataSourceOptions(loadConfig({ overrides: this.overrides() }), databaseSchema(FEATURES)))
    try { if (seed) await seed(db) } finally { await db.destroy() }
  }

  private overrides(): Record<string, unknown> {
    return deepMerge({ database: { url: this.dbUrl }, redis: { url: this.options.redisUrl, keyPrefix: this.prefix }, log: { level: 'warn', format: 'json' } }, this.options.replicaConfig ?? {})
  }

  /** URLs as the replicas use them (through the proxies, when given). */
  private replicaUrls(): { db: string; redis: string } {
    const { proxies } = this.options
    return { db: proxies?.db ? proxies.db.rewrite(this.dbUrl) : this.dbUrl, redis: proxies?.redis ? proxies.redis.rewrite(this.options.redisUrl) : this.options.redisUrl }
  }

  /** The key prefix of this run in Redis (a scenario empties it to play a Redis restarted without data). */
  get redisPrefix(): string { return this.prefix }

  /** Starts a replica process (`config`: overrides of its own, e.g. `replicas.weight`); resolves once its runtime started. */
  async spawn(name: string, config: Record<string, unknown> = {}): Promise<void> {
    const urls = this.replicaUrls()
    const merged = deepMerge(deepMerge(this.overrides(), config), { database: { url: urls.db }, redis: { url: urls.redis } })
    const child = fork(join(__dirname, 'replica.ts'), [], {
      execArgv: ['-r', 'ts-node/register/transpile-only'],
      env: {
        ...process.env, NODE_ENV: 'test', QUNYUN_DB_URL: urls.db, QUNYUN_REDIS_URL: urls.redis,
        QUNYUN_REPLICA_ID: name, FAULT_CONFIG: JSON.stringify(merged), FAULT_BOTS: JSON.stringify(this.options.bots),
        FAULT_HTTP: this.options.http ? '1' : '',
      },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    })
    const replica: Replica = { name, child, alive: true, stderr: '' }
    this.replicas.push(replica)
    child.stderr?.on('data', (d: Buffer) => { replica.stderr = (replica.stderr + d.toString()).slice(-20_000) })
    const started = new Promise<void>((resolve, reject) => {
      child.on('exit', (code) => { replica.alive = false; for (const [bot, h] of this.holder) if (h === name) this.holder.set(bot, null); reject(new Error(`replica ${name} exited (${code}) before starting:\n${replica.stderr}`)) })
      child.on('message', (m: { type: string; bot?: string; action?: PlatformAction; port?: number; id?: string }) => {
        if (m.type === 'started') { replica.httpPort = m.port; resolve() }
        else if (m.type === 'ready' && m.bot) { this.holder.set(m.bot, name); this.readyAt.push({ bot: m.bot, replica: name, at: Date.now() }) }
        else if (m.type === 'released' && m.bot) { if (this.holder.get(m.bot) === name) this.holder.set(m.bot, null) }
        else if (m.type === 'action' && m.bot && m.action) this.actions.push({ replica: name, bot: m.bot, action: m.action, at: Date.now() })
        else if (m.type === 'not-held' && m.id) {
          // Arrived after the replica gave the bot up: not delivered; it goes to whoever runs the bot next.
          const message = this.byId.get(m.id)
          if (message) { this.returned++; this.backlog.push(message); if (m.bot && this.holder.get(m.bot) === name) this.holder.set(m.bot, null) }
        }
      })
    })
    await started
  }

  /** kill -9 of a replica. */
  kill(name: string): void {
    const r = this.replicas.find((x) => x.name === name)
    if (!r) throw new Error(`no replica ${name}`)
    r.child.kill('SIGKILL')
    r.alive = false
    for (const [bot, h] of this.holder) if (h === name) this.holder.set(bot, null)
  }

  /** Graceful stop of one replica (as a deploy does); resolves when its process exited. */
  async stop(name: string): Promise<void> {
    const r = this.replicas.find((x) => x.name === name && x.alive)
    if (!r) throw new Error(`no live replica ${name}`)
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => { r.child.kill('SIGKILL'); resolve() }, 20_000)
      r.child.once('exit', () => { clearTimeout(timer); resolve() })
      r.child.send({ type: 'stop' })
    })
    r.alive = false
    for (const [bot, h] of this.holder) if (h === name) this.holder.set(bot, null)
  }

  /** Waits until every bot is run (logged in, groups synced) by some replica. */
  async allHeld(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (Object.keys(this.options.bots).some((b) => !this.holder.get(b))) {
      if (Date.now() > deadline) throw new Error(`bots not all held: ${JSON.stringify([...this.holder])}\n${this.replicas.map((r) => `${r.name}: ${r.stderr.slice(-3000)}`).join('\n')}`)
      await sleep(100)
    }
  }

  /**
   * Delivers the stream over `durationMs`: every copy of every message at a random moment, to the
   * replica running its bot at that moment (a copy that finds no holder waits for one, as WeCom
   * redelivers after the account logs in again). `during` runs at `atFraction` of the stream (a fault).
   */
  async deliver(script: ScriptedMessage[], durationMs: number, random: () => number, fault?: { atFraction: number; run: () => void | Promise<void> }): Promise<void> {
    const copies = script.flatMap((m) => Array.from({ length: m.copies }, (_, i) => ({ m, at: i === 0 ? random() * durationMs * 0.8 : random() * durationMs })))
    copies.sort((a, b) => a.at - b.at)
    const start = Date.now()
    let faulted = !fault
    const backlog = this.backlog
    for (const m of script) this.byId.set(m.id, m)
    this.redeliverTimer ??= setInterval(() => this.flush(backlog), 200)
    for (const copy of copies) {
      const wait = start + copy.at - Date.now()
      if (wait > 0) await sleep(wait)
      if (!faulted && fault && copy.at >= fault.atFraction * durationMs) { faulted = true; await fault.run() }
      backlog.push(copy.m)
      this.flush(backlog)
    }
    const deadline = Date.now() + 120_000
    while (backlog.length > 0) {
      if (Date.now() > deadline) throw new Error(`${backlog.length} copies never found a holder`)
      await sleep(200)
      this.flush(backlog)
    }
  }

  private flush(backlog: ScriptedMessage[]): void {
    for (let i = 0; i < backlog.length;) {
      const m = backlog[i] as ScriptedMessage
      const holder = this.holder.get(m.bot)
      const r = holder ? this.replicas.find((x) => x.name === holder && x.alive) : undefined
      if (!r) { i++; continue }
      r.child.send({ type: 'say', bot: m.bot, group: m.group, member: m.member, text: m.text, id: m.id })
      this.deliveries.set(m.id, [...(this.deliveries.get(m.id) ?? []), r.name])
      backlog.splice(i, 1)
    }
  }

  /** Waits until no new platform action arrived for `quietMs`. */
  async quiet(quietMs: number, timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    let seen = -1
    let since = Date.now()
    while (Date.now() < deadline) {
      if (this.actions.length !== seen) { seen = this.actions.length; since = Date.now() }
      else if (Date.now() - since >= quietMs) return
      await sleep(100)
    }
  }

  /** GET a path of a replica's admin API: status and JSON body (status 0 when it does not answer). */
  async http(name: string, path: string): Promise<{ status: number; body: unknown }> {
    const r = this.replicas.find((x) => x.name === name)
    if (!r?.httpPort) throw new Error(`replica ${name} serves no HTTP`)
    try {
      const res = await fetch(`http://127.0.0.1:${r.httpPort}${path}`, { signal: AbortSignal.timeout(5_000) })
      const text = await res.text()
      let body: unknown = text
      try { body = JSON.parse(text) } catch { /* not JSON (metrics) */ }
      return { status: res.status, body }
    } catch {
      return { status: 0, body: null }
    }
  }

  /** Rows of the shared database. */
  async query<T>(sql: string): Promise<T[]> {
    const url = new URL(this.dbUrl)
    const c = await createConnection({ host: url.hostname, port: Number(url.port || 3306), user: decodeURIComponent(url.username), password: decodeURIComponent(url.password), database: this.dbName })
    try { return (await c.query(sql))[0] as T[] } finally { await c.end() }
  }

  /** Stops every live replica gracefully, then drops the database and the Redis keys. */
  async teardown(): Promise<void> {
    if (this.redeliverTimer) clearInterval(this.redeliverTimer)
    await Promise.all(this.replicas.filter((r) => r.alive).map((r) => new Promise<void>((resolve) => {
      const timer = setTimeout(() => { r.child.kill('SIGKILL'); resolve() }, 20_000)
      r.child.once('exit', () => { clearTimeout(timer); resolve() })
      r.child.send({ type: 'stop' })
    })))
    if (this.dbName) {
      const url = new URL(this.options.dbUrl)
      const c = await createConnection({ host: url.hostname, port: Number(url.port || 3306), user: decodeURIComponent(url.username), password: decodeURIComponent(url.password) })
      await c.query(`DROP DATABASE IF EXISTS \`${this.dbName}\``)
      await c.end()
    }
    await deleteRedisKeysWithPrefix({ url: this.options.redisUrl, keyPrefix: this.prefix }).catch(() => 0)
  }
}

/** Two bots with two groups each, `members` members per group. */
export function fixture(members: number): Record<string, FaultGroup[]> {
  const group = (id: string): FaultGroup => ({ id, name: `群 ${id}`, members: Array.from({ length: members }, (_, i) => ({ id: `${id}-m${i}`, name: `成员${i}` })) })
  return { b1: [group('f1'), group('f2')], b2: [group('f3'), group('f4')] }
}

/** One check-in per member of every group, each delivered 1–4 times. */
export function checkInStream(bots: Record<string, FaultGroup[]>, random: () => number): ScriptedMessage[] {
  const out: ScriptedMessage[] = []
  for (const [bot, groups] of Object.entries(bots)) {
    for (const g of groups) for (const m of g.members) out.push({ id: `msg-${g.id}-${m.id}`, bot, group: g.id, member: m.id, text: '签到', copies: 1 + Math.floor(random() * 4) })
  }
  return out
}

/**
 * Waits until every member in `keys` (`roomId|member`) got a reply on the WeCom side, or `timeoutMs`
 * passed (answers a killed replica held in a batch window come from the next minute's sweep). Returns how
 * many are still missing.
 */
export async function waitForReplies(h: FaultHarness, keys: ReadonlySet<string>, timeoutMs: number, only?: (text: string) => boolean): Promise<number> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const answered = new Set<string>()
    for (const { action } of h.actions) {
      if (action.kind !== 'say' || !action.groupId) continue
      if (only && !only(action.text ?? '')) continue
      for (const member of action.mentions ?? []) answered.add(`${action.groupId}|${member}`)
    }
    const missing = [...keys].filter((k) => !answered.has(k)).length
    if (missing === 0 || Date.now() > deadline) return missing
    await sleep(500)
  }
}

/** sent / expected / duplicates / lost of check-in replies on the WeCom side and check-in rows in the database. */
export async function countCheckIns(h: FaultHarness, script: ScriptedMessage[]): Promise<{
  replies: { sent: number; expected: number; duplicates: number; lost: number }
  rows: { sent: number; expected: number; duplicates: number; lost: number }
  activity: { sent: number; expected: number; duplicates: number; lost: number }
  outbound: Record<string, number>
}> {
  const expected = new Set(script.map((m) => `${roomId(m.group)}|${m.member}`))
  const replies = new Map<string, number>()
  for (const { action } of h.actions) {
    if (action.kind !== 'say' || !action.groupId) continue
    for (const member of action.mentions ?? []) {
      const key = `${action.groupId}|${member}`
      if (expected.has(key)) replies.set(key, (replies.get(key) ?? 0) + 1)
    }
  }
  const tally = (counts: Map<string, number>) => {
    let sent = 0; let duplicates = 0; let lost = 0
    for (const key of expected) {
      const n = counts.get(key) ?? 0
      sent += n
      if (n === 0) lost++
      if (n > 1) duplicates += n - 1
    }
    return { sent, expected: expected.size, duplicates, lost }
  }
  const rows = new Map<string, number>()
  for (const r of await h.query<{ group_id: string; member_id: string; n: number }>('SELECT group_id, member_id, COUNT(*) AS n FROM qy_checkin GROUP BY group_id, member_id')) rows.set(`${r.group_id}|${r.member_id}`, Number(r.n))
  const activity = new Map<string, number>()
  for (const r of await h.query<{ group_id: string; member_id: string; n: number }>('SELECT group_id, member_id, SUM(messages) AS n FROM qy_activity_daily GROUP BY group_id, member_id')) activity.set(`${r.group_id}|${r.member_id}`, Number(r.n))
  const outbound: Record<string, number> = {}
  for (const r of await h.query<{ status: string; n: number }>('SELECT status, COUNT(*) AS n FROM qy_outbound GROUP BY status')) outbound[r.status] = Number(r.n)
  const retried = await h.query<{ n: number }>('SELECT COUNT(*) AS n FROM qy_outbound WHERE attempts > 1')
  outbound.performedMoreThanOnce = Number(retried[0]?.n ?? 0)
  return { replies: tally(replies), rows: tally(rows), activity: tally(activity), outbound }
}

// ---------------------------------------------------------------------------------------------------
// Mixed stream: check-ins plus the other features that act on messages (moderation, lottery).
// Auto-reply is not in it: the default rule pack defines no auto-reply rules (they are an owner's rows,
// made through the API), so a message of the stream has no answer to expect from it.

/** Title of the lottery open in every group of the mixed stream (no 签到 / 群规 in it: replies are told apart by text). */
export const LOTTERY_TITLE = '双十二福袋'
/** Its entry keyword (the schema's default; under duplicates.minChars, so never cross-group spam either). */
const LOTTERY_KEYWORD = '参与抽奖'
/** Members m1…m8 of every group enter the lottery (m0 owns the group: staff, not eligible, never punished). */
const ENTRANTS = 8
/** Members m9…m11 of every group post one advert / sensitive text each: one strike, one warning. */
const VIOLATORS = [9, 10, 11]
/** Texts that violate for certain: each holds a term of rules/words/ads.txt or sensitive.txt as is. */
const VIOLATIONS = ['加微信领优惠券，名额有限', '兼职日结，每天两小时', '这里可以代开发票，需要的找我']
/** What a repeat offender posts: three violations — warning, final warning, removal (the default ladder). */
const OFFENDER_TEXTS = ['刷单返利，日赚三百', '网贷秒到账，无抵押', '扫码进群免费领取']
/** Groups with a repeat offender (one per bot), an extra member of the group who posts nothing else. */
const OFFENDER_GROUPS = ['f1', 'f3']
const offenderId = (group: string): string => `${group}-offender`

/**
 * The moderation slice the mixed stream's groups run: rules on, the advert and sensitive-word lists of
 * the default pack's word files, the default ladder (warn → final warning → remove). Floods and duplicate
 * detection are off: with redeliveries and out-of-order copies their counts are not a function of the
 * script (the violations here are word matches, which are).
 */
export const MIXED_MODERATION = { enabled: true, words: { lists: ['file:ads', 'file:sensitive'] }, flood: { enabled: false }, duplicates: { enabled: false } }

/** Two bots with two groups of 20 members each (fixture(20)), plus a repeat offender in f1 and f3. */
export function mixedFixture(): Record<string, FaultGroup[]> {
  const bots = fixture(20)
  for (const groups of Object.values(bots)) for (const g of groups) if (OFFENDER_GROUPS.includes(g.id)) g.members.push({ id: offenderId(g.id), name: `违规者${g.id}` })
  return bots
}

/**
 * Seeds what the mixed stream needs, as an owner would set it up before the stream: the moderation rules
 * of every group (stored slices, as PUT /groups/:id/moderation writes them) and one lottery open in every
 * group (a row as POST /lotteries + …/open leave it: closes in a day, so no job touches it meanwhile).
 */
export function seedMixed(bots: Record<string, FaultGroup[]>): (db: DataSource) => Promise<void> {
  return async (db) => {
    // Imported here: the check-in-only scenarios never load these modules.
    const { DbRuleRepository } = await import('../../src/adapters/db/rule-repository')
    const { LotteryEntity } = await import('../../src/features/lottery/lottery.entity')
    const { LotterySchema } = await import('../../src/features/lottery/lottery.schema')
    const { commitmentOf } = await import('../../src/features/lottery/lottery.draw')
    const { randomBytes } = await import('node:crypto')
    const now = Date.now()
    const groupIds = Object.values(bots).flat().map((g) => roomId(g.id))
    const rules = new DbRuleRepository(db)
    for (const groupId of groupIds) await rules.write({ groupId, feature: 'moderation', value: MIXED_MODERATION, author: 'fault harness', note: null, at: now })
    const closesAt = now + 86_400_000
    const drawAt = closesAt + 3_600_000
    const config = LotterySchema.parse({
      title: LOTTERY_TITLE, groupIds, prizes: [{ name: '红包', quantity: 1 }], entry: { keyword: LOTTERY_KEYWORD },
      times: { closesAt: new Date(closesAt).toISOString(), drawAt: new Date(drawAt).toISOString() },
    })
    const seed = randomBytes(32).toString('hex')
    await db.getRepository(LotteryEntity).insert({
      ownerTokenId: null, title: LOTTERY_TITLE, status: 'open', config, opensAt: null, closesAt, drawAt, seed, commitment: commitmentOf(seed),
      entrantCount: 0, version: 1, createdAt: now, updatedAt: now, openedAt: now,
    })
  }
}

/** What a scripted message of the mixed stream is. */
export type MessageKind = 'checkIn' | 'entry' | 'violation'

/** A scripted message with its kind. */
export interface MixedMessage extends ScriptedMessage { kind: MessageKind }

/**
 * The mixed stream: the check-in of every member (the same 80 as checkInStream on fixture(20)), a lottery
 * entry of m1…m8 in every group, one violating text of m9…m11 in every group, and three of the repeat
 * offender in f1 and f3 — every message delivered 1–4 times.
 */
export function mixedStream(bots: Record<string, FaultGroup[]>, random: () => number): MixedMessage[] {
  const copies = (): number => 1 + Math.floor(random() * 4)
  const out: MixedMessage[] = []
  const add = (kind: MessageKind, bot: string, g: FaultGroup, member: string, text: string, id: string): void => { out.push({ id, kind, bot, group: g.id, member, text, copies: copies() }) }
  for (const [bot, groups] of Object.entries(bots)) {
    for (const g of groups) for (const m of g.members) if (m.id !== offenderId(g.id)) add('checkIn', bot, g, m.id, '签到', `msg-${g.id}-${m.id}`)
  }
  for (const [bot, groups] of Object.entries(bots)) {
    for (const g of groups) {
      for (let i = 1; i <= ENTRANTS; i++) add('entry', bot, g, `${g.id}-m${i}`, LOTTERY_KEYWORD, `lot-${g.id}-m${i}`)
      VIOLATORS.forEach((i, n) => add('violation', bot, g, `${g.id}-m${i}`, VIOLATIONS[n % VIOLATIONS.length] as string, `mod-${g.id}-m${i}`))
      if (OFFENDER_GROUPS.includes(g.id)) OFFENDER_TEXTS.forEach((text, n) => add('violation', bot, g, offenderId(g.id), text, `mod-${g.id}-offender-${n}`))
    }
  }
  return out
}

/**
 * What a say action on the WeCom side is, told by the default texts of each feature (anywhere in the text:
 * wechaty puts the @-mentions in front of it).
 */
export function sayKind(text: string): 'checkIn' | 'warning' | 'removal' | 'lottery' | 'other' {
  if (text.includes(`「${LOTTERY_TITLE}」`)) return 'lottery'
  if (text.includes('请遵守群规') || text.includes('最后一次提醒')) return 'warning'
  if (text.includes('多次违反群规')) return 'removal'
  if (text.includes('签到')) return 'checkIn'
  return 'other'
}

/** sent / expected / duplicates / lost of one kind of side effect. */
export interface Tally { sent: number; expected: number; duplicates: number; lost: number }

/**
 * Compares counts per key with the expected count per key (keys not expected are not counted: see
 * `extra`); `allowed` per key: effects that may or may not exist (of messages only a killed process saw).
 */
function tallyAgainst(expected: ReadonlyMap<string, number>, counts: ReadonlyMap<string, number>, allowed?: ReadonlyMap<string, number>): Tally & { lostKeys: string[] } {
  let sent = 0; let want = 0; let duplicates = 0; let lost = 0
  const lostKeys: string[] = []
  for (const [key, e] of expected) {
    const n = counts.get(key) ?? 0
    sent += n; want += e
    const most = e + (allowed?.get(key) ?? 0)
    if (n > most) duplicates += n - most
    if (n < e) { lost += e - n; lostKeys.push(key) }
  }
  return { sent, expected: want, duplicates, lost, lostKeys }
}

const bump = (m: Map<string, number>, key: string, by = 1): void => { m.set(key, (m.get(key) ?? 0) + by) }

/** Every side effect of the mixed stream, per kind, against what the script says. */
export interface MixedCounts {
  /** Database (keyed): check-in rows per member, strike events per violating message, lottery entries per member. */
  checkInRows: Tally
  strikes: Tally
  entries: Tally
  /** Database (counters): messages per member in the activity rollups. */
  activity: Tally
  /** WeCom side: check-in answers, warnings (@-mentions), removal announcements, removals, entry confirmations. */
  checkInReplies: Tally
  warnings: Tally
  announcements: Tally
  removals: Tally
  confirmations: Tally
  /** Rows for keys the script does not expect (e.g. a message only the killed process saw), per kind. */
  extra: Record<string, number>
  /** The lottery's entrant_count column against its entry rows. */
  entrantCount: { column: number; rows: number }
  outbound: Record<string, number>
  /** Expected keys that got nothing, per kind (for the FAULT line when something is lost). */
  lostKeys: Record<string, string[]>
}

/**
 * Counts every side effect of `script` against the expected set. `maybe`: ids of messages whose effects
 * may or may not exist — scenario 2's messages WeCom gave only to the killed process (it may have acted on
 * them before it died, or not). Their own effects are not expected (what they left is counted in `extra`);
 * their activity counts are allowed, not required; a member with such a violation is left out of the
 * moderation expectations (their ladder is not the script's). Expectations per member otherwise: one
 * check-in row and answer; one entry and one confirmation; a strike on each violating message; with k
 * violations (k ≤ 3) min(k, 2) warnings, and at k = 3 one removal and its announcement.
 */
export async function countMixed(h: FaultHarness, script: readonly MixedMessage[], maybe: ReadonlySet<string> = new Set()): Promise<MixedCounts> {
  const key = (m: ScriptedMessage): string => `${roomId(m.group)}|${m.member}`
  const want = { checkIn: new Map<string, number>(), entry: new Map<string, number>(), strike: new Map<string, number>(), activity: new Map<string, number>(), warning: new Map<string, number>(), removal: new Map<string, number>() }
  const allowedActivity = new Map<string, number>()
  const unsure = new Set(script.filter((m) => m.kind === 'violation' && maybe.has(m.id)).map(key))
  const violations = new Map<string, number>()
  for (const m of script) {
    if (maybe.has(m.id)) { bump(allowedActivity, key(m)); want.activity.set(key(m), want.activity.get(key(m)) ?? 0); continue }
    bump(want.activity, key(m))
    if (m.kind === 'checkIn') want.checkIn.set(key(m), 1)
    else if (m.kind === 'entry') want.entry.set(key(m), 1)
    else {
      // A strike is per message, whoever else saw what; the ladder's effects only for members the script decides.
      want.strike.set(m.id, 1)
      if (!unsure.has(key(m))) bump(violations, key(m))
    }
  }
  for (const [k, n] of violations) { want.warning.set(k, Math.min(n, 2)); want.removal.set(k, n >= 3 ? 1 : 0) }

  const got = { checkInReplies: new Map<string, number>(), warnings: new Map<string, number>(), announcements: new Map<string, number>(), removals: new Map<string, number>(), confirmations: new Map<string, number>() }
  const names = new Map<string, string>()
  for (const m of script) if (m.member.endsWith('-offender')) names.set(`${roomId(m.group)}|违规者${m.group}`, key(m))
  for (const { action } of h.actions) {
    if (action.kind === 'remove' && action.groupId && action.memberId) { bump(got.removals, `${action.groupId}|${action.memberId}`); continue }
    if (action.kind !== 'say' || !action.groupId) continue
    const kind = sayKind(action.text ?? '')
    if (kind === 'removal') {
      // The announcement names the member (no @-mention: they are gone).
      for (const [label, k] of names) if (label.startsWith(`${action.groupId}|`) && (action.text ?? '').includes(label.split('|')[1] as string)) bump(got.announcements, k)
      continue
    }
    const into = kind === 'checkIn' ? got.checkInReplies : kind === 'warning' ? got.warnings : kind === 'lottery' ? got.confirmations : null
    if (into) for (const member of action.mentions ?? []) bump(into, `${action.groupId}|${member}`)
  }

  const rowsBy = async (sql: string): Promise<Map<string, number>> => {
    const out = new Map<string, number>()
    for (const r of await h.query<{ k: string; n: number }>(sql)) out.set(r.k, Number(r.n))
    return out
  }
  const checkInRows = await rowsBy("SELECT CONCAT(group_id, '|', member_id) AS k, COUNT(*) AS n FROM qy_checkin GROUP BY group_id, member_id")
  const entryRows = await rowsBy("SELECT CONCAT(group_id, '|', member_id) AS k, COUNT(*) AS n FROM qy_lottery_entry GROUP BY group_id, member_id")
  // A strike is the counted row of a message (strike not null); other rows of it ('also') are not strikes.
  const strikeRows = await rowsBy('SELECT message_id AS k, COUNT(*) AS n FROM qy_moderation_event WHERE strike IS NOT NULL GROUP BY message_id')
  const activity = await rowsBy("SELECT CONCAT(group_id, '|', member_id) AS k, SUM(messages) AS n FROM qy_activity_daily GROUP BY group_id, member_id")
  const lottery = await h.query<{ n: number }>(`SELECT entrant_count AS n FROM qy_lottery WHERE title = '${LOTTERY_TITLE}'`)
  const outbound: Record<string, number> = {}
  for (const r of await h.query<{ status: string; n: number }>('SELECT status, COUNT(*) AS n FROM qy_outbound GROUP BY status')) outbound[r.status] = Number(r.n)
  outbound.performedMoreThanOnce = Number((await h.query<{ n: number }>('SELECT COUNT(*) AS n FROM qy_outbound WHERE attempts > 1'))[0]?.n ?? 0)

  const extraOf = (expected: ReadonlyMap<string, number>, counts: ReadonlyMap<string, number>): number => [...counts].filter(([k]) => !expected.has(k)).reduce((n, [, v]) => n + v, 0)
  // Members with a removal expected 0 are in `want.removal` (so a removal of them counts as a duplicate).
  const results = {
    checkInRows: tallyAgainst(want.checkIn, checkInRows), strikes: tallyAgainst(want.strike, strikeRows), entries: tallyAgainst(want.entry, entryRows),
    activity: tallyAgainst(want.activity, activity, allowedActivity), checkInReplies: tallyAgainst(want.checkIn, got.checkInReplies), warnings: tallyAgainst(want.warning, got.warnings),
    announcements: tallyAgainst(want.removal, got.announcements), removals: tallyAgainst(want.removal, got.removals), confirmations: tallyAgainst(want.entry, got.confirmations),
  }
  const lostKeys: Record<string, string[]> = {}
  const counts = {} as Record<keyof typeof results, Tally>
  for (const [name, r] of Object.entries(results) as Array<[keyof typeof results, Tally & { lostKeys: string[] }]>) {
    const { lostKeys: keys, ...tally } = r
    counts[name] = tally
    if (keys.length > 0) lostKeys[name] = keys
  }
  const extra: Record<string, number> = {
    checkInRows: extraOf(want.checkIn, checkInRows), strikes: extraOf(want.strike, strikeRows), entries: extraOf(want.entry, entryRows),
    removals: extraOf(want.removal, got.removals), warnings: extraOf(want.warning, got.warnings), confirmations: extraOf(want.entry, got.confirmations), checkInReplies: extraOf(want.checkIn, got.checkInReplies),
  }
  for (const k of Object.keys(extra)) if (extra[k] === 0) delete extra[k]
  return { ...counts, extra, entrantCount: { column: Number(lottery[0]?.n ?? 0), rows: [...entryRows.values()].reduce((a, b) => a + b, 0) }, outbound, lostKeys }
}

/**
 * Waits until the WeCom side shows every expected answer of the mixed stream (check-in answers, warnings,
 * removals, entry confirmations), or `timeoutMs` passed. Returns the tally of what is still missing, per kind.
 */
export async function waitForMixed(h: FaultHarness, script: readonly MixedMessage[], maybe: ReadonlySet<string>, timeoutMs: number): Promise<Record<string, number>> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const c = await countMixed(h, script, maybe)
    const missing = { checkInReplies: c.checkInReplies.lost, warnings: c.warnings.lost, removals: c.removals.lost, announcements: c.announcements.lost, confirmations: c.confirmations.lost }
    if (Object.values(missing).every((n) => n === 0) || Date.now() > deadline) return missing
    await sleep(1_000)
  }
}

/**
 * Platform effects of one kind a member got more than expected — who performed each, when (ms after
 * `since`) and how it began — for the FAULT-DETAIL line of a scenario with duplicates toward WeCom.
 */
export function platformDetail(h: FaultHarness, since: number, kinds: ReadonlyArray<ReturnType<typeof sayKind>>, keys: ReadonlySet<string>): Record<string, Array<{ replica: string; t: number; text: string }>> {
  const by = new Map<string, Array<{ replica: string; t: number; text: string }>>()
  for (const a of h.actions) {
    if (a.action.kind !== 'say' || !a.action.groupId) continue
    const kind = sayKind(a.action.text ?? '')
    if (!kinds.includes(kind)) continue
    for (const m of a.action.mentions ?? []) {
      const key = `${a.action.groupId}|${m}`
      if (keys.has(key)) by.set(`${kind} ${key}`, [...(by.get(`${kind} ${key}`) ?? []), { replica: a.replica, t: a.at - since, text: (a.action.text ?? '').slice(0, 24) }])
    }
  }
  return Object.fromEntries([...by].filter(([, v]) => v.length > 1))
}
