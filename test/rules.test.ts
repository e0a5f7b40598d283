import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { z } from 'zod'
import type { ZodType } from 'zod'
import { RuleStore, RuleValidationError } from '../src/app/rules'
import { ConfigError } from '../src/config/load'
import { CORE_ENTITIES, dataSourceOptions, openDatabase } from '../src/adapters/db/data-source'
import { createMemoryPorts } from '../src/ports/memory'
import { createRedisPorts } from '../src/adapters/redis/redis-ports'
import { systemClock } from '../src/ports/clock'
import type { CoordinationPorts } from '../src/ports/ports'
import { cleanup, COORDINATION, silentLogger, STORAGE, testConfig } from './support/env'

afterAll(cleanup)

const Greeting = z.strictObject({ enabled: z.boolean().default(false), text: z.string().max(20).default('你好') })
const schemas = new Map<string, ZodType>([['greeting', Greeting]])

describe(`rule store (${STORAGE} + ${COORDINATION})`, () => {
  it('layers group overrides over the rule pack and invalidates every replica on change', async () => {
    const config = await testConfig()
    const rulesDir = mkdtempSync(join(tmpdir(), 'qunyun-rules-'))
    writeFileSync(join(rulesDir, 'pack.yaml'), 'greeting:\n  text: 欢迎\n')
    const db = await openDatabase(dataSourceOptions(config, CORE_ENTITIES, ':memory:'))
    // Two replicas: same database, same coordination backend, each with its own cache.
    const portsA: CoordinationPorts = config.redis.url ? await createRedisPorts({ url: config.redis.url, keyPrefix: config.redis.keyPrefix }) : createMemoryPorts()
    const portsB: CoordinationPorts = config.redis.url ? await createRedisPorts({ url: config.redis.url, keyPrefix: config.redis.keyPrefix }) : portsA
    const a = new RuleStore({ db, pubsub: portsA.pubsub, clock: systemClock, log: silentLogger, rulesDir, schemas })
    const b = new RuleStore({ db, pubsub: portsB.pubsub, clock: systemClock, log: silentLogger, rulesDir, schemas })
    try {
      for (const store of [a, b]) { store.loadPack('pack.yaml'); store.assignPack('g1', 'pack.yaml'); await store.start() }
      expect((await b.forGroup('g1')).slice('greeting')).toEqual({ enabled: false, text: '欢迎' })
      expect((await b.forGroup('other')).slice('greeting')).toEqual({ enabled: false, text: '你好' })
      await a.set('g1', 'greeting', { enabled: true, text: '新人好' })
      // b cached the old value; the pub/sub notice drops it.
      for (let i = 0; i < 100 && ((await b.forGroup('g1')).slice('greeting') as { enabled: boolean }).enabled === false; i++) {
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
      expect((await b.forGroup('g1')).slice('greeting')).toEqual({ enabled: true, text: '新人好' })
      expect((await b.forGroup('g1')).version).toBe(1)
      await expect(a.set('g1', 'greeting', { enabled: 'yes', extra: 1 })).rejects.toBeInstanceOf(RuleValidationError)
      await a.set('g1', 'greeting', { text: 'x'.repeat(21) }).catch((error: RuleValidationError) => {
        expect(error.problems).toEqual([{ path: 'greeting.text', message: expect.any(String) }])
      })
    } finally {
      await a.stop(); await b.stop()
      await portsA.close(); if (portsB !== portsA) await portsB.close()
      await db.destroy()
    }
  })

  it('refuses a rule pack with unknown features or invalid values, listing every problem', async () => {
    const rulesDir = mkdtempSync(join(tmpdir(), 'qunyun-rules-'))
    writeFileSync(join(rulesDir, 'bad.yaml'), 'greeting:\n  enabled: maybe\n  colour: red\nmoderation: {}\n')
    const config = await testConfig()
    const db = await openDatabase(dataSourceOptions(config, CORE_ENTITIES, ':memory:'))
    const store = new RuleStore({ db, pubsub: createMemoryPorts().pubsub, clock: systemClock, log: silentLogger, rulesDir, schemas })
    try {
      expect(() => store.loadPack('bad.yaml')).toThrow(ConfigError)
      try { store.loadPack('bad.yaml') } catch (error) {
        const problems = (error as ConfigError).problems.join('\n')
        expect(problems).toContain('greeting.enabled')
        expect(problems).toContain('colour')
        expect(problems).toContain('moderation: no feature with rules of this name')
      }
      expect(() => store.loadPack('missing.yaml')).toThrow(/rule pack not found/)
    } finally { await db.destroy() }
  })
})
