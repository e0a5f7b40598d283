import { signal } from './state'

/**
 * Routes live in the URL fragment (#/groups/…): the fragment is never sent to the server, so nothing the
 * dashboard puts in a URL reaches a log — and the token is never in a URL at all.
 */
export const route = signal<string>(current())

function current(): string {
  const hash = location.hash.replace(/^#/, '')
  return hash.startsWith('/') ? hash : '/'
}

window.addEventListener('hashchange', () => route.set(current()))

export function navigate(path: string): void {
  if (current() === path) return
  location.hash = path
}

/** Matches `/groups/:id` style patterns; params are decoded. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const p = pattern.split('/')
  const s = path.split('?')[0]!.split('/')
  if (p.length !== s.length) return null
  const params: Record<string, string> = {}
  for (let i = 0; i < p.length; i++) {
    const part = p[i]!
    if (part.startsWith(':')) {
      try { params[part.slice(1)] = decodeURIComponent(s[i]!) } catch { return null }
    } else if (part !== s[i]) return null
  }
  return params
}

export const href = (...parts: string[]): string => `#/${parts.map(encodeURIComponent).join('/')}`
