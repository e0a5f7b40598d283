import { createHash, randomUUID } from 'node:crypto'
import { errorText, type Logger } from '../../kernel/logger'
import type { Clock } from '../../ports/clock'
import type { Leases, SharedValues } from '../../ports/ports'

/** How a WeCom error code is handled. */
export type ErrcodeClass = 'token' | 'busy' | 'rate' | 'config' | 'permanent'

/**
 * WeCom error codes by what to do about them: a stale token is refreshed and the call repeated; "system
 * busy" is retried at once with backoff; rate limits back off in the outbound queue; configuration
 * problems (IP not on the allowlist, wrong secret, no permission) fail with a log line that says so.
 */
export function classifyErrcode(code: number): ErrcodeClass {
  if (code === 40014 || code === 42001) return 'token'
  if (code === -1) return 'busy'
  if (code === 45009 || code === 45033 || code === 45011 || code === 130101) return 'rate'
  if (code === 60020 || code === 40001 || code === 40013 || code === 48002 || code === 41001 || code === 40056) return 'config'
  return 'permanent'
}

/** What an operator should know about a configuration error code. */
const CONFIG_HINTS: Record<number, string> = {
  60020: 'this server\'s IP is not in the app\'s trusted IP list (企业可信IP)',
  40001: 'the app secret is wrong',
  40013: 'the corp id is wrong',
  48002: 'the app has no permission for this API (客户联系 must include the app)',
}

/** A WeCom API answer with a non-zero errcode. */
export class WecomApiError extends Error {
  readonly errorClass: ErrcodeClass
  constructor(readonly path: string, readonly errcode: number, readonly errmsg: string) {
    const kind = classifyErrcode(errcode)
    super(`WeCom ${path}: errcode ${errcode} (${kind}${CONFIG_HINTS[errcode] ? `: ${CONFIG_HINTS[errcode]}` : ''}): ${errmsg.slice(0, 200)}`)
    this.name = 'WecomApiError'
    this.errorClass = kind
  }

  /** Whether waiting and trying again may help (rate limits, busy). */
  get transient(): boolean { return this.errorClass === 'rate' || this.errorClass === 'busy' }
}

/** The request failed below WeCom's answer (timeout, connection, HTTP 5xx, not JSON). */
export class WecomTransportError extends Error {
  readonly transient = true
  constructor(readonly path: string, message: string) { super(`WeCom ${path}: ${message}`); this.name = 'WecomTransportError' }
}

/** Options of the API client. */
export interface WecomApiOptions {
  base: string
  corpId: string
  secret: string
  clock: Clock
  log: Logger
  /** Where the access token is shared (coordination port). */
  values: SharedValues
  /** One refresh at a time across replicas (coordination port). */
  leases: Leases
  timeoutMs: number
  maxRetries: number
  /** Refresh this long before the token expires (default 5 min). */
  refreshAheadMs?: number
  /** Pause between retries and while waiting for another replica's refresh (real time; tests may shorten). */
  sleep?: (ms: number) => Promise<void>
  /** First retry delay (doubles each retry). */
  retryBaseMs?: number
}

interface StoredToken { token: string; expiresAt: number }

const realSleep = (ms: number): Promise<void> => new Promise((resolve) => { setTimeout(resolve, ms).unref() })

/**
 * The WeCom server API client: JSON over HTTPS with timeouts and retries, and the access token cached in
 * the coordination port (shared by every replica), refreshed ahead of expiry by one holder of a lease at
 * a time, dropped and fetched again when WeCom answers 40014/42001.
 */
export class WecomApi {
  private readonly key: string
  private readonly owner = randomUUID()
  private refreshing: Promise<string> | null = null
  private readonly sleep: (ms: number) => Promise<void>
  /** Token fetches this instance made (for logs and tests). */
  fetches = 0
  /** Aborted when the channel stops: requests in flight end at once instead of holding the shutdown. */
  private readonly stopping = new AbortController()

  constructor(private readonly o: WecomApiOptions) {
    // Several apps of one corp have separate tokens: the key names the secret by a hash, never the secret.
    this.key = `wecom:token:${o.corpId}:${createHash('sha256').update(o.secret).digest('hex').slice(0, 16)}`
    this.sleep = o.sleep ?? realSleep
  }

  /** A valid access token (cached, refreshed ahead of expiry, one refresh at a time across replicas). */
  async token(): Promise<string> {
    const stored = await this.read()
    const now = this.o.clock.now()
    const ahead = this.o.refreshAheadMs ?? 300_000
    if (stored && stored.expiresAt - now > ahead) return stored.token
    // Still valid but due for refresh: whoever gets the lease refreshes; the others keep using it meanwhile.
    if (stored && stored.expiresAt > now) return this.singleFlight(stored.token)
    return this.singleFlight(null)
  }

  /** Drops a token WeCom refused (only if it is still the stored one, so a fresh token is kept). */
  async invalidate(token: string): Promise<void> {
    await this.o.values.deleteIf(this.key, JSON.stringify(await this.storedWith(token)))
  }

  private async storedWith(token: string): Promise<StoredToken | null> {
    const stored = await this.read()
    return stored && stored.token === token ? stored : null
  }

  private async read(): Promise<StoredToken | null> {
    const raw = await this.o.values.get(this.key)
    if (!raw) return null
    try { return JSON.parse(raw) as StoredToken } catch { return null }
  }

  private singleFlight(current: string | null): Promise<string> {
    this.refreshing ??= this.refresh(current).finally(() => { this.refreshing = null })
    return this.refreshing
  }

  private async refresh(current: string | null): Promise<string> {
    const { leases, clock, timeoutMs, maxRetries } = this.o
    const leaseMs = timeoutMs * (maxRetries + 1) + 2_000
    const deadline = Date.now() + leaseMs * 2
    for (;;) {
      const lease = await leases.acquire(`${this.key}:refresh`, this.owner, leaseMs)
      if (lease) {
        try {
          // Another replica may have refreshed between our read and the lease.
          const stored = await this.read()
          if (stored && stored.token !== current && stored.expiresAt - clock.now() > (this.o.refreshAheadMs ?? 300_000)) return stored.token
          const answer = await this.request<{ access_token: string; expires_in: number }>('GET', '/cgi-bin/gettoken', { corpid: this.o.corpId, corpsecret: this.o.secret }, undefined)
          this.fetches++
          const expiresAt = clock.now() + answer.expires_in * 1000
          await this.o.values.set(this.key, JSON.stringify({ token: answer.access_token, expiresAt } satisfies StoredToken), expiresAt)
          this.o.log.info('WeCom access token refreshed', { corp: this.o.corpId, expiresInSeconds: answer.expires_in })
          return answer.access_token
        } finally {
          await leases.release(lease)
        }
      }
      // Someone else refreshes: keep the current token if it still works, else wait for theirs.
      if (current) return current
      await this.sleep(50)
      const stored = await this.read()
      if (stored && stored.expiresAt > clock.now()) return stored.token
      if (Date.now() > deadline) throw new WecomTransportError('/cgi-bin/gettoken', 'timed out waiting for another replica\'s token refresh')
    }
  }

  /**
   * Calls an API path with the access token. A refused token (40014/42001) is dropped and the call made
   * once more with a fresh one; other errcodes throw WecomApiError.
   */
  async call<T>(method: 'GET' | 'POST', path: string, body?: unknown, query: Record<string, string> = {}): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const token = await this.token()
      try {
        return await this.request<T>(method, path, { ...query, access_token: token }, body)
      } catch (error) {
        if (error instanceof WecomApiError && error.errorClass === 'token' && attempt === 0) {
          this.o.log.warn('WeCom refused the access token; refreshing', { path, errcode: error.errcode })
          await this.invalidate(token)
          continue
        }
        throw error
      }
    }
  }

  /** Ends every request in flight and refuses new ones (the channel stops). */
  abort(): void { this.stopping.abort() }

  /** Posts to a full URL path without the access token (group robot webhooks carry their own key). */
  webhook<T>(path: string, query: Record<string, string>, body: unknown): Promise<T> {
    return this.request<T>('POST', path, query, body)
  }

  /** One request with retries on transport failures and "system busy"; returns the JSON answer. */
  private async request<T>(method: 'GET' | 'POST', path: string, query: Record<string, string>, body: unknown): Promise<T> {
    const url = `${this.o.base}${path}?${new URLSearchParams(query).toString()}`
    let last: Error = new Error('no attempt')
    for (let attempt = 0; attempt <= this.o.maxRetries; attempt++) {
      if (attempt > 0) await this.sleep((this.o.retryBaseMs ?? 200) * 2 ** (attempt - 1))
      if (this.stopping.signal.aborted) throw new WecomTransportError(path, 'the channel stopped')
      let answer: Record<string, unknown>
      try {
        const response = await fetch(url, {
          method, signal: AbortSignal.any([AbortSignal.timeout(this.o.timeoutMs), this.stopping.signal]),
          headers: body === undefined ? undefined : { 'content-type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
        })
        if (response.status >= 500) throw new WecomTransportError(path, `HTTP ${response.status}`)
        answer = await response.json() as Record<string, unknown>
      } catch (error) {
        last = error instanceof WecomTransportError ? error : new WecomTransportError(path, (error as Error)?.name === 'TimeoutError' ? `timed out after ${this.o.timeoutMs} ms` : errorText(error))
        this.o.log.warn('WeCom request failed', { path, attempt: attempt + 1, error: last.message })
        continue
      }
      const errcode = typeof answer.errcode === 'number' ? answer.errcode : 0
      if (errcode === 0) return answer as T
      const error = new WecomApiError(path, errcode, String(answer.errmsg ?? ''))
      if (error.errorClass !== 'busy') throw error
      last = error
      this.o.log.warn('WeCom busy; retrying', { path, attempt: attempt + 1, errcode })
    }
    throw last
  }
}
