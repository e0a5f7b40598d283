import { useEffect, useState } from 'preact/hooks'

/** A tiny observable value (language, session): components re-render when it changes. */
export interface Signal<T> { get(): T; set(value: T): void; subscribe(fn: (value: T) => void): () => void }

export function signal<T>(value: T): Signal<T> {
  const listeners = new Set<(value: T) => void>()
  return {
    get: () => value,
    set: (next) => { value = next; for (const fn of [...listeners]) fn(next) },
    subscribe: (fn) => { listeners.add(fn); return () => { listeners.delete(fn) } },
  }
}

/** The signal's current value, re-rendering the component when it changes. */
export function useSignal<T>(s: Signal<T>): T {
  const [value, setValue] = useState(s.get())
  useEffect(() => s.subscribe(setValue), [s])
  return value
}
