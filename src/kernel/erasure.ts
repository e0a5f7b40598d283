import { createHmac } from 'node:crypto'
import type { Clock } from '../ports/clock'
import type { KeySpace, PubSub } from '../ports/ports'
import { containsToken } from '../text/token'
import { errorText, type Logger } from './logger'
import type { DeclaredPersonalData, ErasureCount, ErasureSubject } from './personal-data'

/**
 * Erasure of a member on request (issue 19). The kernel walks every declaration (core and features):
 * the database adapter deletes or pseudonymises rows table by table in small batches, the coordination
 * port drops keys naming the member, each feature's `eraseMember` hook clears what only it knows
 * (in-memory caches) — here and, over pub/sub, on every other replica. The answer is a receipt of counts
 * per place that names the member by pseudonym only.
 */

/** Pub/sub channel asking every replica to run the features' erasure hooks. */
export const ERASURE_CHANNEL = 'personal-data.erase'

/** The member's pseudonym: HMAC-SHA256(deployment key, member id), hex. Stable per deployment. */
export function pseudonymOf(key: Buffer, memberId: string): string {
  return createHmac('sha256', key).update(memberId, 'utf8').digest('hex')
}

/** Where erasure touches the database (implemented by the database adapter). */
export interface PersonalDataStore {
  /** The member's display names found in the declared name columns (within the groups, when given). */
  names(memberId: string, groupIds: readonly string[] | undefined): Promise<string[]>
  /** Up to `limit` distinctive texts the member wrote (declared message-text columns), for the residue scan. */
  sampleTexts(memberId: string, limit: number): Promise<string[]>
  /** Whether a declared table holds a row of the member (their own member column), within the groups when given. */
  known(memberId: string, groupIds: readonly string[] | undefined): Promise<boolean>
  /** Deletes or pseudonymises the member in every declared table; counts per table. */
  erase(subject: ErasureSubject): Promise<ErasureCount[]>
  /** Searches EVERY table of the database (introspected, declared or not) for the needles. */
  scan(needles: readonly Needle[]): Promise<ResidueFinding[]>
}

/** Something the residue scan looks for. */
export interface Needle {
  kind: 'member id' | 'name' | 'message text'
  value: string
}

/** One place still holding something of the member. The value itself is not repeated. */
export interface ResidueFinding {
  /** `table:<name>.<column>`, `key:<key>`, `log:<file>` */
  place: string
  kind: Needle['kind']
  /** Rows, keys or lines. */
  count: number
}

/** What an erasure did (or, as a preview, would do). Names the member by pseudonym only. */
export interface ErasureReceipt {
  pseudonym: string
  /** 'all' (an administrator's erasure) or how many groups it was limited to. */
  scope: 'all' | { groups: number }
  dryRun: boolean
  at: number
  places: ErasureCount[]
  removed: number
  pseudonymised: number
}

/** A feature's erasure hook, with the feature's name. */
export interface ErasureHook {
  name: string
  erase(subject: ErasureSubject): Promise<ErasureCount[]>
}

/** What the erasure service needs. */
export interface ErasureDeps {
  store: PersonalDataStore
  keys: KeySpace
  pubsub: PubSub
  /** The deployment's pseudonym key. */
  key: Buffer
  /** The features' hooks (live features of this process). */
  hooks(): readonly ErasureHook[]
  /** Writes every buffer first, so nothing of the member is written after the erasure. */
  flush(): Promise<void>
  clock: Clock
  log: Logger
  /** This process, so it does not run its hooks twice on its own broadcast. */
  origin: string
}

/** A broadcast erasure request: origin, member, groups (owner's erasure). */
interface Broadcast { o: string; m: string; g?: readonly string[] }

/**
 * The id is no member known in the caller's scope (no declared table holds a row of theirs there —
 * never a member, a typo, a group or bot id, or already erased): nothing is touched, so an id such as a
 * bot's or a group's cannot take coordination keys (leases) or other people's rows with it.
 */
export class UnknownMemberError extends Error {
  constructor() {
    super('no member with this id in your groups (never a member, or already erased): nothing erased')
    this.name = 'UnknownMemberError'
  }
}

/** Lines of a log file for the residue scan, or null when it cannot be read. */
export type LogLines = (file: string) => Promise<AsyncIterable<string> | null>

/** Runs erasures and residue scans for the admin API and the CLI. */
export class ErasureService {
  private dispose?: () => Promise<void> | void

  constructor(private readonly d: ErasureDeps) {}

  /** The member's pseudonym in this deployment. */
  pseudonym(memberId: string): string { return pseudonymOf(this.d.key, memberId) }

  /** Listens for erasures made on other replicas (their hooks clear caches there; here ours). */
  async start(): Promise<void> {
    this.dispose = await this.d.pubsub.subscribe(ERASURE_CHANNEL, (message) => {
      let b: Broadcast
      try { b = JSON.parse(message) as Broadcast } catch { return }
      if (b.o === this.d.origin || typeof b.m !== 'string') return
      const subject: ErasureSubject = { memberId: b.m, pseudonym: this.pseudonym(b.m), ...(b.g ? { groupIds: b.g } : {}) }
      void this.replay(subject).catch((error: unknown) => this.d.log.warn('erasure failed on a broadcast', { pseudonym: subject.pseudonym, error: errorText(error) }))
    })
  }

  async stop(): Promise<void> { await this.dispose?.() }

  /**
   * Another replica erased a member: this one clears its caches, writes its buffers (rows of the member
   * counted here since) and erases the tables once more, so nothing buffered here outlives the erasure.
   */
  private async replay(subject: ErasureSubject): Promise<void> {
    await this.runHooks(subject)
    await this.d.flush()
    await this.d.store.erase(subject)
  }

  /**
   * Erases (or previews) a member: everywhere, or only in `groupIds` (an owner's erasure). Idempotent: a
   * second run finds the member unknown and touches nothing (UnknownMemberError).
   */
  async erase(memberId: string, options: { groupIds?: readonly string[]; dryRun?: boolean } = {}): Promise<ErasureReceipt> {
    const { store, keys, log, clock } = this.d
    const dryRun = options.dryRun === true
    const subject: ErasureSubject = { memberId, pseudonym: this.pseudonym(memberId), ...(options.groupIds ? { groupIds: options.groupIds } : {}), ...(dryRun ? { dryRun } : {}) }
    if (!dryRun) await this.d.flush()
    if (!await store.known(memberId, options.groupIds)) throw new UnknownMemberError()
    const places: ErasureCount[] = []
    places.push(...await store.erase(subject))
    const removedKeys = await keys.deleteKeys(memberId, { ...(options.groupIds ? { alsoOneOf: options.groupIds } : {}), dryRun })
    places.push({ place: 'keys:coordination', removed: removedKeys, pseudonymised: 0 })
    places.push(...await this.runHooks(subject))
    if (!dryRun) {
      const broadcast: Broadcast = { o: this.d.origin, m: memberId, ...(options.groupIds ? { g: options.groupIds } : {}) }
      await this.d.pubsub.publish(ERASURE_CHANNEL, JSON.stringify(broadcast)).catch((error: unknown) => log.warn('erasure not announced to other replicas', { pseudonym: subject.pseudonym, error: errorText(error) }))
    }
    const receipt: ErasureReceipt = {
      pseudonym: subject.pseudonym,
      scope: options.groupIds ? { groups: options.groupIds.length } : 'all',
      dryRun,
      at: clock.now(),
      places,
      removed: places.reduce((n, p) => n + p.removed, 0),
      pseudonymised: places.reduce((n, p) => n + p.pseudonymised, 0),
    }
    // `pseudonym`, not `member`: the logger pseudonymises member fields, which would hash the pseudonym
    // again; this line must show the one `qunyun member pseudonym ID` prints.
    if (!dryRun) log.info('member erased', { pseudonym: subject.pseudonym, scope: options.groupIds ? `${options.groupIds.length} group(s)` : 'all', removed: receipt.removed, pseudonymised: receipt.pseudonymised })
    return receipt
  }

  /** The needles of a residue scan for a member, collected before erasure (names and texts are gone after). */
  async needles(memberId: string, extra: { names?: readonly string[]; texts?: readonly string[] } = {}): Promise<Needle[]> {
    const names = [...new Set([...await this.d.store.names(memberId, undefined), ...(extra.names ?? [])])].filter((n) => n.trim().length >= 2)
    const texts = [...new Set([...await this.d.store.sampleTexts(memberId, 5), ...(extra.texts ?? [])])]
    return [
      { kind: 'member id', value: memberId },
      ...names.map((value): Needle => ({ kind: 'name', value })),
      ...texts.map((value): Needle => ({ kind: 'message text', value })),
    ]
  }

  /** Searches every table, every coordination key (names and values) and the given log files. */
  async residue(needles: readonly Needle[], logFiles: readonly string[], readLog: LogLines): Promise<ResidueFinding[]> {
    const found = await this.d.store.scan(needles)
    for (const hit of await this.d.keys.search(needles.map((n) => n.value))) {
      const needle = needles[hit.needle]
      if (needle) found.push({ place: `key:${hit.key}`, kind: needle.kind, count: 1 })
    }
    for (const file of logFiles) {
      // Line by line: a log file of any size is read as a stream, never whole.
      const lines = await readLog(file)
      if (lines === null) continue
      const counts = needles.map(() => 0)
      for await (const line of lines) {
        needles.forEach((needle, i) => { if (containsToken(line, needle.value)) counts[i] = (counts[i] ?? 0) + 1 })
      }
      needles.forEach((needle, i) => {
        const count = counts[i] ?? 0
        if (count > 0) found.push({ place: `log:${file}`, kind: needle.kind, count })
      })
    }
    return found
  }

  private async runHooks(subject: ErasureSubject): Promise<ErasureCount[]> {
    const out: ErasureCount[] = []
    for (const hook of this.d.hooks()) {
      for (const c of await hook.erase(subject)) out.push({ ...c, place: c.place.includes(':') ? c.place : `cache:${hook.name}.${c.place}` })
    }
    return out
  }
}

/** The data map: every declared table with its class, purpose and erasure, for the README and the API. */
export interface DataMapEntry {
  owner: string
  purpose: string
  table: string
  dataClass: string
  timeColumn: string | null
  memberColumns: readonly string[]
  textColumns: readonly string[]
  mentionColumns: readonly string[]
  onErase: string
  ownerErasable: boolean
}

/** Builds the data map from the declarations; `tableOf` names an entity's table. */
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- TypeORM entity constructors of any shape
export function dataMap(declared: readonly DeclaredPersonalData[], tableOf: (entity: Function) => string): DataMapEntry[] {
  return declared.flatMap(({ owner, declaration }) => declaration.tables.map((t) => ({
    owner,
    purpose: declaration.purpose,
    table: tableOf(t.entity),
    dataClass: t.dataClass,
    timeColumn: t.timeColumn ?? null,
    memberColumns: t.memberColumns ?? [],
    textColumns: t.textColumns ?? [],
    mentionColumns: t.mentionColumns ?? [],
    onErase: t.onErase,
    ownerErasable: t.groupColumn !== undefined,
  })))
}
