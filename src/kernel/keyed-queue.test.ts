import { KeyedQueue } from './keyed-queue'

/** A promise resolved or rejected from outside. */
function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void
  let reject!: (e: unknown) => void
  const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej })
  return { promise, resolve, reject }
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r))
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

describe('KeyedQueue', () => {
  it('runs tasks of one key strictly in order even when earlier ones are slower', async () => {
    const q = new KeyedQueue()
    const log: string[] = []
    const task = (name: string, ms: number) => async (): Promise<string> => {
      log.push(`${name}:start`)
      await sleep(ms)
      log.push(`${name}:end`)
      return name
    }
    const results = await Promise.all([
      q.run('g1', task('t1', 8)),
      q.run('g1', task('t2', 1)),
      q.run('g1', task('t3', 0)),
    ])
    expect(results).toEqual(['t1', 't2', 't3'])
    expect(log).toEqual(['t1:start', 't1:end', 't2:start', 't2:end', 't3:start', 't3:end'])
  })

  it('does not start a later task of the same key before the earlier one settles', async () => {
    const q = new KeyedQueue()
    const first = deferred()
    const second = jest.fn(async () => 'second')
    const p1 = q.run('k', () => first.promise)
    const p2 = q.run('k', second)
    await tick()
    await tick()
    expect(second).not.toHaveBeenCalled()
    first.resolve()
    await p1
    await expect(p2).resolves.toBe('second')
    expect(second).toHaveBeenCalledTimes(1)
  })

  it('starts the first task of a key synchronously', () => {
    const q = new KeyedQueue()
    const task = jest.fn(async () => {})
    void q.run('k', task)
    expect(task).toHaveBeenCalledTimes(1)
  })

  it('runs different keys concurrently (their tasks overlap)', async () => {
    const q = new KeyedQueue()
    const a = deferred()
    const b = deferred()
    let running = 0
    let maxRunning = 0
    const wrap = (d: { promise: Promise<void> }) => async (): Promise<void> => {
      running++
      maxRunning = Math.max(maxRunning, running)
      await d.promise
      running--
    }
    const pa = q.run('a', wrap(a))
    const pb = q.run('b', wrap(b))
    await tick()
    // Both are in progress at the same time, although neither has finished.
    expect(running).toBe(2)
    b.resolve()
    await pb
    // b finished while a is still running: no head-of-line blocking across keys.
    expect(running).toBe(1)
    a.resolve()
    await pa
    expect(maxRunning).toBe(2)
  })

  it('a slow key does not delay another key', async () => {
    const q = new KeyedQueue()
    const slow = deferred()
    const done: string[] = []
    const pSlow = q.run('slow', async () => { await slow.promise; done.push('slow') })
    await q.run('fast', async () => { done.push('fast1') })
    await q.run('fast', async () => { done.push('fast2') })
    expect(done).toEqual(['fast1', 'fast2'])
    slow.resolve()
    await pSlow
    expect(done).toEqual(['fast1', 'fast2', 'slow'])
  })

  it('a rejecting task does not block later tasks of its key, and its rejection reaches its own caller', async () => {
    const q = new KeyedQueue()
    const boom = new Error('boom')
    const log: string[] = []
    const p1 = q.run('k', async () => { log.push('1'); throw boom })
    const p2 = q.run('k', async () => { log.push('2'); return 2 })
    const p3 = q.run('k', async () => { log.push('3'); return 3 })
    await expect(p1).rejects.toBe(boom)
    await expect(p2).resolves.toBe(2)
    await expect(p3).resolves.toBe(3)
    expect(log).toEqual(['1', '2', '3'])
  })

  it('a rejection in the middle of a key reaches only that caller', async () => {
    const q = new KeyedQueue()
    const boom = new Error('middle')
    const p1 = q.run('k', async () => 1)
    const p2 = q.run('k', async () => { throw boom })
    const p3 = q.run('k', async () => 3)
    await expect(p1).resolves.toBe(1)
    await expect(p2).rejects.toBe(boom)
    await expect(p3).resolves.toBe(3)
    await q.idle()
    expect(q.size).toBe(0)
  })

  it('idle() resolves immediately when nothing is queued', async () => {
    const q = new KeyedQueue()
    let resolved = false
    void q.idle().then(() => { resolved = true })
    await tick()
    expect(resolved).toBe(true)
  })

  it('idle() resolves only once every task of every key is done (including failed ones)', async () => {
    const q = new KeyedQueue()
    const a = deferred()
    const b = deferred()
    const pa = q.run('a', () => a.promise)
    const pb = q.run('b', () => b.promise)
    pb.catch(() => {})
    let idle = false
    const idlePromise = q.idle().then(() => { idle = true })
    await tick()
    expect(idle).toBe(false)
    a.resolve()
    await pa
    await tick()
    expect(idle).toBe(false)
    b.reject(new Error('fails'))
    await idlePromise
    expect(idle).toBe(true)
    expect(q.size).toBe(0)
  })

  it('several idle() waiters are all woken', async () => {
    const q = new KeyedQueue()
    const d = deferred()
    void q.run('k', () => d.promise)
    const waiters = [q.idle(), q.idle(), q.idle()]
    d.resolve()
    await expect(Promise.all(waiters)).resolves.toHaveLength(3)
  })

  it('size counts queued and running tasks', async () => {
    const q = new KeyedQueue()
    expect(q.size).toBe(0)
    const a1 = deferred()
    const a2 = deferred()
    const b1 = deferred()
    const p1 = q.run('a', () => a1.promise)
    const p2 = q.run('a', () => a2.promise)
    const p3 = q.run('b', () => b1.promise)
    expect(q.size).toBe(3)
    a1.resolve()
    await p1
    await tick()
    expect(q.size).toBe(2)
    b1.resolve()
    await p3
    await tick()
    expect(q.size).toBe(1)
    a2.resolve()
    await p2
    await q.idle()
    expect(q.size).toBe(0)
  })

  it('a key can be reused after it went idle', async () => {
    const q = new KeyedQueue()
    await q.run('k', async () => 1)
    await q.idle()
    const log: number[] = []
    await Promise.all([q.run('k', async () => { await sleep(2); log.push(1) }), q.run('k', async () => { log.push(2) })])
    expect(log).toEqual([1, 2])
  })

  it('returns the task value', async () => {
    const q = new KeyedQueue()
    await expect(q.run('k', async () => ({ ok: true }))).resolves.toEqual({ ok: true })
  })
})

describe('KeyedQueue with a task that throws synchronously', () => {
  it('turns the throw into a rejection and stays usable', async () => {
    const q = new KeyedQueue()
    const bad = (() => { throw new Error('sync') }) as unknown as () => Promise<void>
    await expect(q.run('k', bad)).rejects.toThrow('sync')
    await expect(q.run('k', async () => 'next')).resolves.toBe('next')
    await q.idle()
    expect(q.size).toBe(0)
  })
})
