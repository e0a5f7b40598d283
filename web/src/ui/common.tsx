import type { ComponentChildren } from 'preact'
import { useCallback, useEffect, useState } from 'preact/hooks'
import { ApiError } from '../api'
import { t } from '../i18n'

export type Load<T> = { state: 'loading' } | { state: 'error'; error: unknown } | { state: 'ready'; data: T }

/**
 * Loads data for a component; re-runs when `deps` change; `reload` runs it again. A result belongs to the
 * deps it was loaded for: from the render in which they change it reads as loading, so a page never shows
 * its new state (a pager on page 2, a filter) over the old data while the effect that starts the load waits
 * for the next frame.
 */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): [Load<T>, () => void] {
  const [tick, setTick] = useState(0)
  const key = [...deps, tick]
  const [result, setResult] = useState<{ key: unknown[]; load: Load<T> }>({ key, load: { state: 'loading' } })
  useEffect(() => {
    let live = true
    setResult({ key, load: { state: 'loading' } })
    load().then((data) => { if (live) setResult({ key, load: { state: 'ready', data } }) }, (error: unknown) => { if (live) setResult({ key, load: { state: 'error', error } }) })
    return () => { live = false }
  }, key)
  const current = result.key.length === key.length && result.key.every((v, i) => Object.is(v, key[i]))
  return [current ? result.load : LOADING, useCallback(() => setTick((n) => n + 1), [])]
}

const LOADING: Load<never> = { state: 'loading' }

export function Loading(): preact.JSX.Element {
  return <p class="loading" role="status" aria-live="polite">{t('loading')}</p>
}

export function Empty({ children }: { children?: ComponentChildren }): preact.JSX.Element {
  return <p class="empty">{children ?? t('empty')}</p>
}

/** What went wrong, in words: server down, expired token, 403, not found, or the API's message. */
export function errorText(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status === 0) return t('errServer')
    if (error.status === 401) return t('errExpired')
    if (error.status === 403) return t('errForbidden')
    if (error.status === 404) return t('errNotFound')
    return `${t('errGeneric')}: ${error.message}`
  }
  return `${t('errGeneric')}: ${error instanceof Error ? error.message : String(error)}`
}

export function ErrorBox({ error, retry }: { error: unknown; retry?: () => void }): preact.JSX.Element {
  const id = error instanceof ApiError ? error.requestId : null
  return (
    <div class="error" role="alert">
      <p>{errorText(error)}</p>
      {error instanceof ApiError && error.details.length > 0 && <ul>{error.details.map((d) => <li key={d.path}><code>{d.path}</code> {d.message}</li>)}</ul>}
      {id && <p class="muted">{t('requestId')}: <code>{id}</code></p>}
      {retry && <button type="button" onClick={retry}>{t('retry')}</button>}
    </div>
  )
}

/** Renders loading / error / data for one Load. */
export function Loaded<T>({ load, retry, children }: { load: Load<T>; retry?: () => void; children: (data: T) => ComponentChildren }): preact.JSX.Element {
  if (load.state === 'loading') return <Loading />
  if (load.state === 'error') return <ErrorBox error={load.error} retry={retry} />
  return <>{children(load.data)}</>
}

export function Card({ title, children, actions, id }: { title: string; children: ComponentChildren; actions?: ComponentChildren; id?: string }): preact.JSX.Element {
  return (
    <section class="card" id={id} aria-label={title}>
      <header><h2>{title}</h2>{actions && <div class="actions">{actions}</div>}</header>
      {children}
    </section>
  )
}
