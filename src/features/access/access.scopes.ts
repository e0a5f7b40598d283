import type { FeatureTables } from '../../adapters/db/feature-store'
import { groupScope } from '../../kernel/auth'
import type { Disposer, PubSub } from '../../ports/ports'
import type { TokenScopes } from '../../contracts/access'
import { TOKENS_CHANNEL } from './access.tokens'

/**
 * Reads every live token's group scope in two queries. Owners' objects (auto-reply rules, word lists)
 * serve only groups their owner can see now: a revoked token, or a grant taken away, retires them there.
 */
export async function loadTokenScopes(db: FeatureTables): Promise<TokenScopes> {
  const tokens: Array<{ id: number | string; all_groups: boolean | number | string }> = await db.query(
    'SELECT id, all_groups FROM qy_api_token WHERE revoked_at IS NULL')
  const grants: Array<{ token_id: number | string; group_id: string }> = await db.query(
    'SELECT g.token_id, g.group_id FROM qy_token_group g JOIN qy_api_token t ON t.id = g.token_id WHERE t.revoked_at IS NULL')
  const groups = new Map<number, string[]>()
  for (const g of grants) {
    const id = Number(g.token_id)
    const list = groups.get(id)
    if (list) list.push(g.group_id)
    else groups.set(id, [g.group_id])
  }
  // Booleans come back as 0/1 (SQLite, MySQL) or '0'/'1' depending on the driver.
  return new Map(tokens.map((t) => [Number(t.id), groupScope(Number(t.all_groups) === 1 || t.all_groups === true, groups.get(Number(t.id)) ?? [])]))
}

/** How long cached scopes are trusted without a change notice (a grant made by the CLI without shared Redis, a new token). */
const MAX_AGE_MS = 5_000

/**
 * Live token scopes, cached: dropped on every replica when a token or grant changes through the API
 * (pub/sub), and re-read at least every few seconds for changes that send no notice.
 */
export class LiveTokenScopes {
  private cached: { at: number; scopes: Promise<TokenScopes> } | null = null
  private unsubscribe?: Disposer

  constructor(private readonly db: FeatureTables, private readonly pubsub: PubSub) {}

  /** Starts following change notices. */
  async start(): Promise<void> {
    this.unsubscribe = await this.pubsub.subscribe(TOKENS_CHANNEL, () => { this.cached = null })
  }

  /** Stops following them. */
  async stop(): Promise<void> { await this.unsubscribe?.() }

  /** The current scopes (one read shared by concurrent callers). */
  current(): Promise<TokenScopes> {
    // Real time on purpose: this bounds staleness of a cache, it decides nothing about messages.
    const now = Date.now()
    if (!this.cached || now - this.cached.at > MAX_AGE_MS) {
      const entry = { at: now, scopes: loadTokenScopes(this.db) }
      this.cached = entry
      entry.scopes.catch(() => { if (this.cached === entry) this.cached = null })
    }
    return this.cached.scopes
  }
}
