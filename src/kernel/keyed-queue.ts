/**
 * Runs tasks one at a time per key and concurrently across keys: messages of one group in order,
 * different groups in parallel. Memory is proportional to keys with work in flight.
 */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<void>>()
  /** Tasks queued or running per key (keys with none are absent). */
  private readonly counts = new Map<string, number>()
  private inFlight = 0
  private idleWaiters: Array<() => void> = []

  /** Number of tasks queued or running. */
  get size(): number { return this.inFlight }

  /** Number of tasks of `key` queued or running. */
  sizeOf(key: string): number { return this.counts.get(key) ?? 0 }

  /** The most tasks any one key has queued or running. */
  get deepest(): number {
    let max = 0
    for (const n of this.counts.values()) if (n > max) max = n
    return max
  }

  /** Runs `task` after every earlier task of `key`; a failing task does not block later ones. */
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    this.inFlight++
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1)
    const previous = this.tails.get(key)
    let result: Promise<T>
    if (previous) result = previous.then(task)
    else {
      // Start at once (no extra tick on the hot path); a task that throws synchronously becomes a rejection.
      try { result = task() } catch (error) { result = Promise.reject(error) }
    }
    const tail = result.then(() => undefined, () => undefined)
    this.tails.set(key, tail)
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key)
      const left = (this.counts.get(key) ?? 1) - 1
      if (left > 0) this.counts.set(key, left)
      else this.counts.delete(key)
      this.inFlight--
      if (this.inFlight === 0) for (const wake of this.idleWaiters.splice(0)) wake()
    })
    return result
  }

  /** Resolves when nothing is queued or running. */
  idle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }
}
