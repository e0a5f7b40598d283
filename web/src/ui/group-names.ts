import { useEffect, useState } from 'preact/hooks'
import type { Api } from '../api'

/** The caller's groups by id, read once per session (the API scopes the list to the caller). */
const cache = new WeakMap<Api, Promise<Map<string, string>>>()

export function groupNames(api: Api): Promise<Map<string, string>> {
  let names = cache.get(api)
  if (!names) {
    names = api.groups().then((list) => new Map(list.map((g) => [g.id, g.name])))
    // A failed read is not kept: the next page tries again.
    names.catch(() => cache.delete(api))
    cache.set(api, names)
  }
  return names
}

/** A group's display name (its id until the names arrive, or when the caller cannot see it). */
export function useGroupName(api: Api): (id: string) => string {
  const [names, setNames] = useState<Map<string, string> | null>(null)
  useEffect(() => {
    let live = true
    groupNames(api).then((n) => { if (live) setNames(n) }, () => undefined)
    return () => { live = false }
  }, [api])
  return (id) => names?.get(id) ?? id
}
