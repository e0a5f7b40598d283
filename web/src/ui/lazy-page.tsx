import type { ComponentType } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { ErrorBox, Loading } from './common'

interface Props { params: Record<string, string> }

/**
 * A page whose code is loaded on its first visit (its own chunk): the first load carries the shell and
 * the login form only. Loading and a failed load (server down) are shown like any other state.
 */
export function lazyPage(load: () => Promise<ComponentType<Props>>): ComponentType<Props> {
  let loaded: ComponentType<Props> | null = null
  return function LazyPage(props: Props): preact.JSX.Element {
    const [Page, setPage] = useState<ComponentType<Props> | null>(() => loaded)
    const [error, setError] = useState<unknown>(null)
    const [attempt, setAttempt] = useState(0)
    useEffect(() => {
      if (Page) return
      let live = true
      load().then((c) => { loaded = c; if (live) setPage(() => c) }, (e: unknown) => { if (live) setError(e) })
      return () => { live = false }
    }, [attempt])
    if (Page) return <Page {...props} />
    if (error !== null) return <ErrorBox error={error} retry={() => { setError(null); setAttempt(attempt + 1) }} />
    return <Loading />
  }
}
