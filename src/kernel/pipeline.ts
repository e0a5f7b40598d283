/** Koa-style middleware: do something, optionally `await next()` to run the rest of the chain. */
export type Middleware<C> = (ctx: C, next: () => Promise<void>) => Promise<void> | void

/** A middleware with the name it is reported under (feature name). */
export interface NamedMiddleware<C> {
  name: string
  fn: Middleware<C>
}

/** Thrown when a middleware calls next() twice — always a bug, in every environment. */
export class NextCalledTwiceError extends Error {
  constructor(readonly middleware: string) {
    super(`next() called multiple times in middleware "${middleware}"`)
    this.name = 'NextCalledTwiceError'
  }
}

/** Reports an error thrown by one named middleware; the chain then continues with the next one. */
export type BoundaryHandler<C> = (error: unknown, ctx: C, middleware: string) => void

/**
 * Decides whether a middleware that threw before calling next() runs again (e.g. the database was
 * unreachable and is back): resolves true to run it again, false to report the error and go on.
 */
export type RetryHandler<C> = (error: unknown, ctx: C, middleware: string, attempt: number) => Promise<boolean>

/**
 * Composes middleware into one function, koa-compose style: each gets `next()` to run the rest; calling
 * next() twice throws. With `onError`, each middleware runs inside its own error boundary: if it throws
 * before calling next(), the error is reported and the chain goes on with the next middleware, so one
 * failing feature never stops the others. Errors thrown by downstream middleware are not reported twice.
 */
export function compose<C>(stack: readonly NamedMiddleware<C>[], onError?: BoundaryHandler<C>, retry?: RetryHandler<C>): (ctx: C, last?: () => Promise<void>) => Promise<void> {
  for (const entry of stack) {
    if (typeof entry.fn !== 'function') throw new TypeError(`middleware "${entry.name}" is not a function`)
  }
  return function run(ctx: C, last?: () => Promise<void>): Promise<void> {
    let index = -1
    const dispatch = async (i: number): Promise<void> => {
      // dispatch(i) is called by middleware i-1's next(): that is the one calling it twice.
      if (i <= index) throw new NextCalledTwiceError(stack[i - 1]?.name ?? String(i - 1))
      index = i
      const entry = stack[i]
      if (!entry) {
        if (last) await last()
        return
      }
      if (!onError) {
        await entry.fn(ctx, () => dispatch(i + 1))
        return
      }
      // Boundary: remember whether the failure came from downstream (already handled there).
      let downstreamStarted = false
      for (let attempt = 1; ; attempt++) {
        try {
          await entry.fn(ctx, () => {
            downstreamStarted = true
            return dispatch(i + 1)
          })
          return
        } catch (error) {
          if (error instanceof NextCalledTwiceError) throw error
          if (downstreamStarted) throw error
          // Nothing downstream ran yet, so running this middleware again cannot run the rest twice.
          if (retry && await retry(error, ctx, entry.name, attempt)) continue
          onError(error, ctx, entry.name)
          // The failing middleware never called next(): continue the chain as if it had.
          await dispatch(i + 1)
          return
        }
      }
    }
    return dispatch(0)
  }
}
