import { timingSafeEqual } from 'node:crypto'
import { In, IsNull } from 'typeorm'
import type { FeatureStore } from '../../adapters/db/feature-store'
import { groupScope, type Principal, type Role } from '../../kernel/auth'
import { errorText, type Logger } from '../../kernel/logger'
import type { Clock } from '../../ports/clock'
import type { Disposer, PubSub } from '../../ports/ports'
import { ApiTokenEntity, TokenGroupEntity } from './access.entity'
import { generateToken, hashToken, isWellFormedToken, tokenHint } from './access.token-format'

/** Channel announcing token changes (revocations, grants) to every replica. */
export const TOKENS_CHANNEL = 'tokens.changed'

/** A token as lists show it (never the secret, never the hash). */
export interface TokenView {
  id: number
  name: string
  role: Role
  hint: string
  allGroups: boolean
  groupIds: string[]
  createdBy: string | null
  createdAt: string
  lastUsedAt: string | null
  revokedAt: string | null
}

/** How long a successful lookup is trusted before the database is asked again. */
const CACHE_MS = 5_000
/** Last-used times are written at most this often per token. */
const TOUCH_MS = 60_000

/**
 * API tokens: created once (the secret is shown once, only its SHA-256 is stored), looked up by hash with
 * a constant-time comparison, cached briefly, revoked at once on every replica through pub/sub.
 */
export class TokenStore {
  private readonly cache = new Map<string, { principal: Principal | null; until: number }>()
  private readonly touched = new Map<number, number>()
  private readonly loading = new Map<string, Promise<Principal | null>>()
  private unsubscribe?: Disposer

  constructor(private readonly deps: { store: FeatureStore; clock: Clock; pubsub: PubSub; log: Logger }) {}

  /** Starts listening for changes made elsewhere. */
  async start(): Promise<void> {
    this.unsubscribe = await this.deps.pubsub.subscribe(TOKENS_CHANNEL, () => this.cache.clear())
  }

  /** Stops listening. */
  async stop(): Promise<void> { await this.unsubscribe?.() }

  /** Creates a token; returns the secret (shown once) and its record. */
  async create(input: { name: string; role: Role; groupIds: string[]; allGroups: boolean; createdBy: string | null }): Promise<{ token: string; view: TokenView }> {
    if (input.role === 'owner' && input.allGroups) throw new Error('owners are scoped to granted groups')
    const token = generateToken()
    const id = await this.deps.store.transaction(async (m) => {
      const result = await m.repo(ApiTokenEntity).insert({
        name: input.name, role: input.role, tokenHash: hashToken(token), hint: tokenHint(token),
        allGroups: input.role === 'admin' ? true : input.allGroups, createdBy: input.createdBy, createdAt: this.deps.clock.now(),
        lastUsedAt: null, revokedAt: null,
      })
      const tokenId = Number(result.identifiers[0]?.id)
      const groups = [...new Set(input.groupIds)]
      if (groups.length > 0) await m.repo(TokenGroupEntity).insert(groups.map((groupId) => ({ tokenId, groupId })))
      return tokenId
    })
    // A new token's grants decide where its owner's objects serve: announced like any other token change.
    await this.changed()
    return { token, view: (await this.get(id)) as TokenView }
  }

  /** One token's view, or null. */
  async get(id: number): Promise<TokenView | null> {
    const row = await this.deps.store.repo(ApiTokenEntity).findOneBy({ id })
    if (!row) return null
    const grants = await this.deps.store.repo(TokenGroupEntity).findBy({ tokenId: id })
    return view(row, grants.map((g) => g.groupId))
  }

  /** Tokens, newest first, optionally with revoked ones. */
  async list(opts: { includeRevoked: boolean; limit: number; beforeId?: number }): Promise<TokenView[]> {
    const qb = this.deps.store.repo(ApiTokenEntity).createQueryBuilder('t').orderBy('t.id', 'DESC').take(opts.limit)
    if (!opts.includeRevoked) qb.andWhere('t.revoked_at IS NULL')
    if (opts.beforeId !== undefined) qb.andWhere('t.id < :before', { before: opts.beforeId })
    const rows = await qb.getMany()
    const grants = rows.length ? await this.deps.store.repo(TokenGroupEntity).findBy({ tokenId: In(rows.map((r) => r.id)) }) : []
    return rows.map((r) => view(r, grants.filter((g) => g.tokenId === r.id).map((g) => g.groupId)))
  }

  /** Revokes a token (idempotent); false when it does not exist. */
  async revoke(id: number): Promise<TokenView | null> {
    const repo = this.deps.store.repo(ApiTokenEntity)
    await repo.update({ id, revokedAt: IsNull() }, { revokedAt: this.deps.clock.now() })
    await this.changed()
    return this.get(id)
  }

  /** Replaces the groups granted to a token. */
  async setGroups(id: number, groupIds: string[]): Promise<TokenView | null> {
    const existing = await this.get(id)
    if (!existing) return null
    await this.deps.store.transaction(async (m) => {
      await m.repo(TokenGroupEntity).delete({ tokenId: id })
      const groups = [...new Set(groupIds)]
      if (groups.length > 0) await m.repo(TokenGroupEntity).insert(groups.map((groupId) => ({ tokenId: id, groupId })))
    })
    await this.changed()
    return this.get(id)
  }

  /** The caller behind a bearer token, or null (malformed, unknown or revoked). */
  async authenticate(token: string): Promise<Principal | null> {
    const now = this.deps.clock.now()
    // Cached by the bearer string itself, so a hit costs one Map lookup (no checksum, no hash).
    const cached = this.cache.get(token)
    if (cached && cached.until > now) {
      if (cached.principal) this.touch(cached.principal.tokenId, now)
      return cached.principal
    }
    // The checksum catches typos and junk before any lookup (and junk is never cached).
    if (!isWellFormedToken(token)) return null
    const pending = this.loading.get(token)
    if (pending) return pending
    const loading = this.lookup(token, now).finally(() => this.loading.delete(token))
    this.loading.set(token, loading)
    return loading
  }

  /** Looks a well-formed token up in the database (one query per token however many requests wait). */
  private async lookup(token: string, now: number): Promise<Principal | null> {
    const hash = hashToken(token)
    const row = await this.deps.store.repo(ApiTokenEntity).findOneBy({ tokenHash: hash })
    let principal: Principal | null = null
    if (row && row.revokedAt === null && timingSafeEqual(Buffer.from(row.tokenHash, 'hex'), Buffer.from(hash, 'hex'))) {
      const grants = await this.deps.store.repo(TokenGroupEntity).findBy({ tokenId: row.id })
      principal = { tokenId: row.id, name: row.name, role: row.role as Role, scope: groupScope(row.allGroups, grants.map((g) => g.groupId)) }
      this.touch(row.id, now)
    }
    if (this.cache.size > 10_000) this.cache.clear()
    this.cache.set(token, { principal, until: now + CACHE_MS })
    return principal
  }

  private touch(id: number, now: number): void {
    if (now - (this.touched.get(id) ?? 0) < TOUCH_MS) return
    this.touched.set(id, now)
    void this.deps.store.repo(ApiTokenEntity).update({ id }, { lastUsedAt: now })
      .catch((error: unknown) => this.deps.log.warn('could not record token use', { token: id, error: errorText(error) }))
  }

  private async changed(): Promise<void> {
    this.cache.clear()
    await this.deps.pubsub.publish(TOKENS_CHANNEL, 'changed')
  }
}

function iso(ms: number | null): string | null { return ms === null ? null : new Date(ms).toISOString() }

function view(row: ApiTokenEntity, groupIds: string[]): TokenView {
  return {
    id: row.id, name: row.name, role: row.role as Role, hint: row.hint, allGroups: row.allGroups, groupIds: groupIds.sort(),
    createdBy: row.createdBy, createdAt: new Date(row.createdAt).toISOString(), lastUsedAt: iso(row.lastUsedAt), revokedAt: iso(row.revokedAt),
  }
}
