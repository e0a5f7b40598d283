import { useState } from 'preact/hooks'
import { ApiError } from '../api'
import { t } from '../i18n'
import { hasStoredToken, resume, signIn, signOutReason } from '../session'
import { useSignal } from '../state'
import { errorText } from '../ui/common'

/** Sign in with an API token (kept in sessionStorage; the form never submits to a URL). */
export function LoginPage(): preact.JSX.Element {
  const [token, setToken] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const reason = useSignal(signOutReason)
  const submit = async (event: Event): Promise<void> => {
    event.preventDefault()
    setBusy(true)
    setError(null)
    try {
      await signIn(token)
      signOutReason.set(null)
      // A deep link (#/groups/…) opened before signing in is kept.
      if (['', '#', '#/', '#/login'].includes(location.hash)) location.hash = '/groups'
    } catch (e) {
      setError(e instanceof ApiError && e.status === 401 ? t('badToken') : errorText(e))
    } finally {
      setBusy(false)
    }
  }
  return (
    <main class="login">
      <h1>{t('appName')}</h1>
      {reason === 'expired' && <p class="error" role="alert">{t('errExpired')}</p>}
      {reason === 'server' && hasStoredToken() && (
        <div class="error" role="alert" data-testid="server-down">
          <p>{t('errServer')}</p>
          <button type="button" onClick={() => { setBusy(true); void resume().finally(() => setBusy(false)) }} disabled={busy}>{t('retry')}</button>
        </div>
      )}
      <form onSubmit={(e) => { void submit(e) }} autocomplete="off">
        <label for="token">{t('token')}</label>
        <input id="token" name="token" type="password" required autocomplete="off" spellcheck={false} value={token}
          onInput={(e) => setToken((e.target as HTMLInputElement).value)} placeholder="qy_…" />
        <p class="muted">{t('tokenHelp')}</p>
        <p class="muted">{t('tokenCreate')} <code>npm run -s qunyun -- token create --role owner --name me --group …</code></p>
        {error && <p class="error" role="alert" data-testid="login-error">{error}</p>}
        <button type="submit" disabled={busy || token.trim() === ''}>{busy ? t('signingIn') : t('signIn')}</button>
      </form>
    </main>
  )
}
