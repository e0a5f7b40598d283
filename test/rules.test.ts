import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { z } from 'zod'
import type { ZodType } from 'zod'
import { RuleStore, RuleValidationError } from '../src/kernel/rules'
import { ConfigError } from '../src/config/load'
import { readRulePack } from '../src/config/rule-packs'
import { databaseSchema, dataSourceOptions, openDatabase } from '../src/adapters/db/data-source'
import { DbRuleRepository } from '../src/adapters/db/rule-repository'
import { createMemoryPorts } from '../src/ports/memory'
import { createRedisPorts } from '../src/adapters/redis/redis-ports'
import { systemClock } from '../src/ports/clock'
import type { CoordinationPorts } from '../src/ports/ports'
import { cleanup, COORDINATION, silentLogger, STORAGE, testConfig } from './support/env'

afterAll(cleanup, 180_000) // dropping each test's database takes seconds on a loaded MariaDB

const Greeting = z.strictObject({ enabled: z.boolean().default(false), text: z.string().max(20).default('你好') })
const schemas = new Map<string, ZodType>([['greeting', Greeting]])
const specs = new Map([['greeting', { schema: Greeting as ZodType<unknown> }]])

describe(`rule store (${STORAGE} + ${COORDINATION})`, () => {
  it('layers group overrides over the rule pack and invalidates every replica on change', async () => {
    const config = await testConfig()
    const rulesDir = mkdtempSync(join(tmpdir(), 'qunyun-rules-'))
    writeFileSync(join(rulesDir, 'pack.yaml'), 'greeting:\n  text: 欢迎\n')
    const db = await openDatabase(dataSourceOptions(config, databaseSchema([]), ':memory:'))
    // Two replicas: same database, same coordination backend, each with its own cache.
    const portsA: CoordinationPorts = config.redis.url ? await createRedisPorts({ url: config.redis.url, keyPrefix: config.redis.keyPrefix }) : createMemoryPorts()
    const portsB: CoordinationPorts = config.redis.url ? await createRedisPorts({ url: config.redis.url, keyPrefix: config.redis.keyPrefix }) : portsA
    // g1 is served by a bot whose pack is pack.yaml; other groups get the schema defaults.
    const packs = new Map([['bot1', readRulePack(rulesDir, 'pack.yaml', schemas)]])
    const options = { repository: new DbRuleRepository(db), clock: systemClock, log: silentLogger, specs, packs, defaultPack: {}, botOf: async (g: string) => (g === 'g1' ? 'bot1' : null) }
    const a = new RuleStore({ ...options, pubsub: portsA.pubsub })
    const b = new RuleStore({ ...options, pubsub: portsB.pubsub })
    try {
      for (const store of [a, b]) await store.start()
      expect((await b.forGroup('g1')).slice('greeting')).toEqual({ enabled: false, text: '欢迎' })
      expect((await b.forGroup('other')).slice('greeting')).toEqual({ enabled: false, text: '你好' })
      await a.write('g1', 'greeting', { enabled: true, text: '新人好' }, { by: null })
      // b cached the old value; the pub/sub notice drops it.
      for (let i = 0; i < 100 && ((await b.forGroup('g1')).slice('greeting') as { enabled: boolean }).enabled === false; i++) {
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
      expect((await b.forGroup('g1')).slice('greeting')).toEqual({ enabled: true, text: '新人好' })
      expect((await b.forGroup('g1')).version).toBe(1)
      await expect(a.write('g1', 'greeting', { enabled: 'yes', extra: 1 }, { by: null })).rejects.toBeInstanceOf(RuleValidationError)
      await a.write('g1', 'greeting', { text: 'x'.repeat(21) }, { by: null }).catch((error: RuleValidationError) => {
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
    const loadPack = (file: string): unknown => readRulePack(rulesDir, file, schemas)
    expect(() => loadPack('bad.yaml')).toThrow(ConfigError)
    try { loadPack('bad.yaml') } catch (error) {
      const problems = (error as ConfigError).problems.join('\n')
      expect(problems).toContain('greeting.enabled')
      expect(problems).toContain('colour')
      expect(problems).toContain('moderation: no feature with rules of this name')
    }
    expect(() => loadPack('missing.yaml')).toThrow(/rule pack not found/)
  })
})
