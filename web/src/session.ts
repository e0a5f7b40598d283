import { Api, type Me } from './api'
import { signal } from './state'

/** The signed-in caller: the API client (holding the token) and who the token is. */
export interface Session { api: Api; me: Me }

/** sessionStorage only: the token lives as long as the tab, is never put in a URL, never logged. */
const KEY = 'qunyun.token'

export const session = signal<Session | null>(null)
/** Why the last session ended (shown on the login page), e.g. an expired token. */
export const signOutReason = signal<string | null>(null)

/** Checks the token against /api/v1/me and starts a session; throws the API's error when refused. */
export async function signIn(token: string): Promise<Session> {
  const api = new Api(token.trim())
  const me = await api.me()
  sessionStorage.setItem(KEY, token.trim())
  api.onUnauthorized = () => signOut('expired')
  const s = { api, me }
  session.set(s)
  return s
}

export function signOut(reason: string | null = null): void {
  sessionStorage.removeItem(KEY)
  signOutReason.set(reason)
  session.set(null)
}

/** Resumes the tab's session, if it has a token that still works. */
export async function resume(): Promise<void> {
  const token = sessionStorage.getItem(KEY)
  if (!token) return
  try {
    await signIn(token)
    signOutReason.set(null)
  } catch (error) {
    const status = (error as { status?: number }).status
    // Server down or failing: keep the token, say so, and offer to try again (nothing to sign in again for).
    if (status === 0 || (status !== undefined && status >= 500)) signOutReason.set('server')
    else signOut(status === 401 ? 'expired' : null)
  }
}

/** Whether the tab holds a token (e.g. kept while the server was unreachable). */
export const hasStoredToken = (): boolean => sessionStorage.getItem(KEY) !== null
