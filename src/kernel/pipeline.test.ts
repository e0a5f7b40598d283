import { compose, NextCalledTwiceError, type Middleware, type NamedMiddleware } from './pipeline'

interface Ctx { log: string[] }

const newCtx = (): Ctx => ({ log: [] })

/** A middleware that logs before and after running the rest of the chain. */
function around(name: string): NamedMiddleware<Ctx> {
  return {
    name,
    fn: async (ctx, next) => {
      ctx.log.push(`${name}:before`)
      await next()
      ctx.log.push(`${name}:after`)
    },
  }
}

/** A middleware that logs and does not call next. */
function stopper(name: string): NamedMiddleware<Ctx> {
  return { name, fn: (ctx) => { ctx.log.push(`${name}:stop`) } }
}

/** A middleware that throws (synchronously or asynchronously) before calling next. */
function thrower(name: string, error: unknown, async = true): NamedMiddleware<Ctx> {
  const fn: Middleware<Ctx> = async
    ? async (ctx) => { ctx.log.push(`${name}:throw`); await Promise.resolve(); throw error }
    : (ctx) => { ctx.log.push(`${name}:throw`); throw error }
  return { name, fn }
}

describe('compose', () => {
  describe('ordering', () => {
    it('runs middleware in order, "after" parts unwinding in reverse (onion)', async () => {
      const ctx = newCtx()
      await compose([around('a'), around('b'), around('c')])(ctx)
      expect(ctx.log).toEqual(['a:before', 'b:before', 'c:before', 'c:after', 'b:after', 'a:after'])
    })

    it('keeps the same order with an error boundary installed', async () => {
      const ctx = newCtx()
      const onError = jest.fn()
      await compose([around('a'), around('b'), around('c')], onError)(ctx)
      expect(ctx.log).toEqual(['a:before', 'b:before', 'c:before', 'c:after', 'b:after', 'a:after'])
      expect(onError).not.toHaveBeenCalled()
    })

    it('waits for asynchronous downstream work before running "after" parts', async () => {
      const ctx = newCtx()
      const slow: NamedMiddleware<Ctx> = {
        name: 'slow',
        fn: async (c) => {
          await new Promise((r) => setTimeout(r, 5))
          c.log.push('slow:done')
        },
      }
      await compose([around('a'), slow])(ctx)
      expect(ctx.log).toEqual(['a:before', 'slow:done', 'a:after'])
    })

    it('an empty stack resolves and still runs `last`', async () => {
      const last = jest.fn(async () => {})
      await compose<Ctx>([])(newCtx(), last)
      expect(last).toHaveBeenCalledTimes(1)
    })

    it('a composed function can be run many times with independent state', async () => {
      const run = compose([around('a'), around('b')])
      const c1 = newCtx()
      const c2 = newCtx()
      await run(c1)
      await run(c2)
      expect(c1.log).toEqual(['a:before', 'b:before', 'b:after', 'a:after'])
      expect(c2.log).toEqual(c1.log)
    })
  })

  describe('stopping the chain', () => {
    it('a middleware that does not call next stops the chain (and `last`)', async () => {
      const ctx = newCtx()
      const later = jest.fn()
      const last = jest.fn(async () => {})
      await compose([around('a'), stopper('b'), { name: 'c', fn: later }])(ctx, last)
      expect(ctx.log).toEqual(['a:before', 'b:stop', 'a:after'])
      expect(later).not.toHaveBeenCalled()
      expect(last).not.toHaveBeenCalled()
    })

    it('also stops with an error boundary installed', async () => {
      const ctx = newCtx()
      const later = jest.fn()
      await compose([stopper('a'), { name: 'b', fn: later }], jest.fn())(ctx)
      expect(ctx.log).toEqual(['a:stop'])
      expect(later).not.toHaveBeenCalled()
    })
  })

  describe('`last` callback', () => {
    it('runs after every middleware called next, before the "after" parts', async () => {
      const ctx = newCtx()
      await compose([around('a'), around('b')])(ctx, async () => { ctx.log.push('last') })
      expect(ctx.log).toEqual(['a:before', 'b:before', 'last', 'b:after', 'a:after'])
    })

    it('is awaited', async () => {
      const ctx = newCtx()
      await compose([around('a')])(ctx, async () => {
        await new Promise((r) => setTimeout(r, 2))
        ctx.log.push('last')
      })
      expect(ctx.log).toEqual(['a:before', 'last', 'a:after'])
    })

    it('runs after a middleware that failed inside an error boundary', async () => {
      const ctx = newCtx()
      const last = jest.fn(async () => {})
      const onError = jest.fn()
      await compose([thrower('a', new Error('x'))], onError)(ctx, last)
      expect(onError).toHaveBeenCalledTimes(1)
      expect(last).toHaveBeenCalledTimes(1)
    })
  })

  describe('next() called twice', () => {
    const twice = (name: string): NamedMiddleware<Ctx> => ({
      name,
      fn: async (ctx, next) => {
        ctx.log.push(`${name}:1`)
        await next()
        ctx.log.push(`${name}:2`)
        await next()
      },
    })

    it('rejects with NextCalledTwiceError (no boundary)', async () => {
      const ctx = newCtx()
      const downstream = jest.fn(async (_c: Ctx, next: () => Promise<void>) => { await next() })
      const err = await compose([twice('dup'), { name: 'down', fn: downstream }])(ctx).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(NextCalledTwiceError)
      expect((err as Error).name).toBe('NextCalledTwiceError')
      // Downstream ran only once.
      expect(downstream).toHaveBeenCalledTimes(1)
    })

    it('is not swallowed by the error boundary and is not reported to onError', async () => {
      const onError = jest.fn()
      const err = await compose([around('a'), twice('dup'), around('c')], onError)(newCtx()).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(NextCalledTwiceError)
      expect(onError).not.toHaveBeenCalled()
    })

    it('names the middleware that called next() twice when it is the one before a next()-less one', async () => {
      const err = await compose([twice('dup'), stopper('end')])(newCtx()).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(NextCalledTwiceError)
      expect((err as NextCalledTwiceError).middleware).toBe('dup')
    })

    it('names the offending middleware when it is the last one of the stack', async () => {
      const err = await compose([twice('dup')])(newCtx()).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(NextCalledTwiceError)
      expect((err as NextCalledTwiceError).middleware).toBe('dup')
      expect((err as NextCalledTwiceError).message).toMatch(/^next\(\) called multiple times in middleware "/)
    })

    it('the error class carries the middleware name in its message', () => {
      const e = new NextCalledTwiceError('feat')
      expect(e.middleware).toBe('feat')
      expect(e.message).toContain('"feat"')
      expect(e).toBeInstanceOf(Error)
    })
  })

  describe('error boundary (onError)', () => {
    it('reports a throwing middleware once, with its name and the ctx, and continues with the next one', async () => {
      const ctx = newCtx()
      const boom = new Error('boom')
      const onError = jest.fn()
      await compose([around('a'), thrower('b', boom), around('c')], onError)(ctx)
      expect(onError).toHaveBeenCalledTimes(1)
      expect(onError).toHaveBeenCalledWith(boom, ctx, 'b')
      expect(ctx.log).toEqual(['a:before', 'b:throw', 'c:before', 'c:after', 'a:after'])
    })

    it('handles synchronous throws the same way', async () => {
      const ctx = newCtx()
      const onError = jest.fn()
      await compose([thrower('a', new Error('sync'), false), around('b')], onError)(ctx)
      expect(onError).toHaveBeenCalledTimes(1)
      expect(onError.mock.calls[0]?.[2]).toBe('a')
      expect(ctx.log).toEqual(['a:throw', 'b:before', 'b:after'])
    })

    it('reports non-Error throwables too', async () => {
      const onError = jest.fn()
      await compose([thrower('a', 'just a string')], onError)(newCtx())
      expect(onError).toHaveBeenCalledWith('just a string', expect.anything(), 'a')
    })

    it('reports each failing middleware once, in order, and still runs the others', async () => {
      const ctx = newCtx()
      const reported: string[] = []
      await compose(
        [thrower('a', new Error('1')), around('b'), thrower('c', new Error('2')), around('d')],
        (_e, _c, name) => { reported.push(name) },
      )(ctx)
      expect(reported).toEqual(['a', 'c'])
      expect(ctx.log).toEqual(['a:throw', 'b:before', 'c:throw', 'd:before', 'd:after', 'b:after'])
    })

    it('an error thrown downstream is reported once, by the failing middleware boundary only', async () => {
      const ctx = newCtx()
      const onError = jest.fn()
      const boom = new Error('deep')
      await compose([around('a'), around('b'), thrower('c', boom)], onError)(ctx)
      expect(onError).toHaveBeenCalledTimes(1)
      expect(onError).toHaveBeenCalledWith(boom, ctx, 'c')
      expect(ctx.log).toEqual(['a:before', 'b:before', 'c:throw', 'b:after', 'a:after'])
    })

    it('an error raised after next() (downstream already ran) is not reported by upstream boundaries', async () => {
      const onError = jest.fn()
      const late = new Error('late')
      const lateThrower: NamedMiddleware<Ctx> = { name: 'b', fn: async (_c, next) => { await next(); throw late } }
      const c = jest.fn(async (_c: Ctx, next: () => Promise<void>) => { await next() })
      const result = compose([around('a'), lateThrower, { name: 'c', fn: c }], onError)(newCtx())
      await expect(result).rejects.toBe(late)
      expect(onError).not.toHaveBeenCalled()
      // The chain is not re-run downstream of the failing middleware.
      expect(c).toHaveBeenCalledTimes(1)
    })

    it('an error from `last` propagates and is not reported by the boundaries', async () => {
      const onError = jest.fn()
      const boom = new Error('last failed')
      await expect(compose([around('a'), around('b')], onError)(newCtx(), async () => { throw boom })).rejects.toBe(boom)
      expect(onError).not.toHaveBeenCalled()
    })

    it('an error thrown by onError itself propagates', async () => {
      const handlerError = new Error('handler')
      const run = compose([thrower('a', new Error('x'))], () => { throw handlerError })
      await expect(run(newCtx())).rejects.toBe(handlerError)
    })
  })

  describe('without onError', () => {
    it('errors propagate to the caller and stop the chain', async () => {
      const ctx = newCtx()
      const boom = new Error('boom')
      const after = jest.fn()
      await expect(compose([around('a'), thrower('b', boom), { name: 'c', fn: after }])(ctx)).rejects.toBe(boom)
      expect(after).not.toHaveBeenCalled()
      // a's "after" part is skipped because its await next() rejected.
      expect(ctx.log).toEqual(['a:before', 'b:throw'])
    })

    it('synchronous throws become rejections (compose never throws synchronously at run time)', async () => {
      const boom = new Error('sync')
      const run = compose([thrower('a', boom, false)])
      let promise: Promise<void> | undefined
      expect(() => { promise = run(newCtx()) }).not.toThrow()
      await expect(promise).rejects.toBe(boom)
    })

    it('an upstream middleware can catch a downstream error', async () => {
      const ctx = newCtx()
      const catcher: NamedMiddleware<Ctx> = {
        name: 'catcher',
        fn: async (c, next) => {
          try { await next() } catch (e) { c.log.push(`caught:${(e as Error).message}`) }
        },
      }
      await compose([catcher, thrower('b', new Error('x'))])(ctx)
      expect(ctx.log).toEqual(['b:throw', 'caught:x'])
    })
  })

  describe('validation at compose time', () => {
    it('rejects a non-function middleware with a TypeError naming it', () => {
      const bad = [around('ok'), { name: 'broken', fn: 'nope' as unknown as Middleware<Ctx> }]
      expect(() => compose(bad)).toThrow(TypeError)
      expect(() => compose(bad)).toThrow('middleware "broken" is not a function')
    })

    it('rejects undefined fn even with an error boundary', () => {
      const bad = [{ name: 'missing', fn: undefined as unknown as Middleware<Ctx> }]
      expect(() => compose(bad, jest.fn())).toThrow(/missing/)
    })
  })
})
