import type { Automaton, MatchResult } from './automaton'
import { GROUP_ADDITIONS_ID, MatcherFactory, TextMatcher, WordListRegistry, contentKey, parseTermLines } from './matcher'
import { Normalizer } from './normalize'

/** term@[start,end) of each result, in result order. */
const brief = (results: MatchResult[]): string[] => results.map((m) => `${m.listId}:${m.term}@${m.start}-${m.end}`)

describe('WordListRegistry', () => {
  it('returns the same instance for the same content and identity, whatever the order or repetition', () => {
    const registry = new WordListRegistry()
    const a = registry.get(['加微信', '私聊', '加微信'], { id: 'ads', name: 'Ads' })
    const b = registry.get(['私聊', '加微信'], { id: 'ads', name: 'Ads' })
    expect(b).toBe(a)
    expect(registry.automatonCount).toBe(1)
  })

  it('shares one automaton between lists with the same content under different ids', () => {
    const registry = new WordListRegistry()
    const a = registry.get(['加微信', '私聊'], { id: 'ads' })
    const b = registry.get(['加微信', '私聊'], { id: 'spam' })
    expect(b).not.toBe(a)
    expect(b.automaton).toBe(a.automaton)
    expect(registry.get(['加微信'], { id: 'ads' }).automaton).not.toBe(a.automaton)
  })

  it('reports rejected and duplicate terms', () => {
    const registry = new WordListRegistry()
    const built = registry.getWithReport(['加V信', '加v信', '...'])
    expect(built.list.size).toBe(1)
    expect(built.rejected.map((r) => r.term)).toEqual(['...'])
    expect(built.duplicates).toHaveLength(1)
    expect(built.list.id).toBe(`list:${contentKey(['加V信', '加v信', '...']).key.slice(0, 12)}`)
  })
})

describe('TextMatcher', () => {
  const registry = new WordListRegistry()
  const ads = registry.get(['加v信', '加微信', '私聊'], { id: 'ads', name: 'Ads' })
  const politics = registry.get(['法轮功'], { id: 'politics', name: 'Politics' })

  it('normalizes once and reports which term, which list and the original span', () => {
    const m = new TextMatcher([ads, politics])
    const text = '请加.V.信，不要私 聊！法.轮.功'
    const found = m.scan(text)
    expect(brief(found)).toEqual(['ads:加v信@1-6', 'ads:私聊@9-12', 'politics:法轮功@13-18'])
    expect(found.map((r) => text.slice(r.start, r.end))).toEqual(['加.V.信', '私 聊', '法.轮.功'])
    expect(found[0]).toEqual({ listId: 'ads', term: '加v信', start: 1, end: 6, normalizedStart: 1, normalizedEnd: 4 })
  })

  it('orders results by end position across lists', () => {
    const m = new TextMatcher([politics, ads])
    expect(brief(m.scan('私聊法轮功加微信'))).toEqual(['ads:私聊@0-2', 'politics:法轮功@2-5', 'ads:加微信@5-8'])
  })

  it('scanNormalized on a shared view gives the same results as scan', () => {
    const m = new TextMatcher([ads, politics], registry.get(['私聊'], { id: 'exc' }))
    const text = '加微信私聊法轮功'
    expect(m.scanNormalized(new Normalizer().run(text))).toEqual(m.scan(text))
  })

  describe('exceptions', () => {
    const factory = new MatcherFactory(registry)

    it('suppress a match lying inside an exception occurrence, but not a separate occurrence', () => {
      const m = factory.matcherFor({ lists: [ads], exceptions: ['加微信群公告'] })
      expect(m.scan('请看加微信群公告')).toEqual([])
      expect(brief(m.scan('请看加微信群公告，别私下加微信'))).toEqual(['ads:加微信@12-15'])
      expect(m.test('请看加微信群公告')).toBe(false)
      expect(m.test('请看加微信群公告，别私下加微信')).toBe(true)
    })

    it('match on the normalized text (the exception is found through evasions too)', () => {
      const m = factory.matcherFor({ lists: [ads], exceptions: ['加微信群公告'] })
      expect(m.scan('请看加 微 信 羣 公告')).toEqual([])
    })

    it('whitelist a term when equal to it, and do not hide partly overlapping matches', () => {
      const m = factory.matcherFor({ lists: [ads], exceptions: ['私聊', '信群'] })
      expect(m.scan('可以私聊')).toEqual([])
      expect(brief(m.scan('加微信群'))).toEqual(['ads:加微信@0-3'])
    })

    it('apply to the group additions too', () => {
      const m = factory.matcherFor({ lists: [ads], additions: ['团购'], exceptions: ['团购群公告'] })
      expect(brief(m.scan('团购来了'))).toEqual([`${GROUP_ADDITIONS_ID}:团购@0-2`])
      expect(m.scan('看团购群公告')).toEqual([])
    })
  })

  it('test() agrees with scan() on a variety of texts', () => {
    const factory = new MatcherFactory(registry)
    const matchers = [
      factory.matcherFor({ lists: [ads, politics] }),
      factory.matcherFor({ lists: [ads], additions: ['团购'], exceptions: ['加微信群'] }),
      factory.matcherFor({ lists: [], additions: ['团购'] }),
      new TextMatcher([]),
    ]
    const texts = ['', '你好', '加微信', '加微信群', '加微信群 加微信', '团购', '法.轮.功', '😂😂', '私聊加微信群']
    for (const m of matchers) for (const t of texts) expect(m.test(t)).toBe(m.scan(t).length > 0)
  })
})

describe('MatcherFactory.matcherFor', () => {
  it('caches matchers by configuration and shares the global lists', () => {
    const factory = new MatcherFactory()
    const global = factory.registry.get(['加微信', '法轮功'], { id: 'global' })
    const a = factory.matcherFor({ lists: [global], additions: ['团购'], exceptions: ['公告'] })
    const b = factory.matcherFor({ lists: [global], additions: ['团购'], exceptions: ['公告'] })
    const c = factory.matcherFor({ lists: [global], additions: ['拼单'] })
    expect(b).toBe(a)
    expect(c).not.toBe(a)
    expect(c.lists[0]).toBe(global)
    expect(brief(c.scan('加微信拼单'))).toEqual(['global:加微信@0-3', `${GROUP_ADDITIONS_ID}:拼单@3-5`])
  })

  it('1,000 groups on the same global list, each with 5 own terms and 2 exceptions, cost at most a few MB beyond one group', () => {
    const factory = new MatcherFactory()
    // A realistic global list: 20,000 distinct four-character terms.
    const globalTerms = Array.from({ length: 20000 }, (_, k) => String.fromCharCode(0x4e00 + (k % 5000), 0x5000 + (k % 977), 0x6000 + (k % 613), 0x7000 + k % 4999))
    const global = factory.registry.get(globalTerms, { id: 'global', name: 'global' })
    let seed = 7
    const rand = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
      return seed / 4294967296
    }
    const word = (): string => Array.from({ length: 3 }, () => String.fromCharCode(0x4e00 + Math.floor(rand() * 20000))).join('')
    const matchers = Array.from({ length: 1000 }, () => factory.matcherFor({ lists: [global], additions: Array.from({ length: 5 }, word), exceptions: [word() + word(), word()] }))

    const automata = new Set<Automaton>()
    for (const m of matchers) {
      expect(m.lists[0]).toBe(global)
      for (const list of [...m.lists, ...(m.exceptions ? [m.exceptions] : [])]) automata.add(list.automaton)
    }
    let total = 0
    for (const a of automata) total += a.memoryBytes()
    const oneGroup = matchers[0]?.memoryBytes() ?? 0
    const beyondOne = total - oneGroup
    console.log(`1,000 groups: global automaton ${(global.memoryBytes() / 1048576).toFixed(2)} MB (shared), ` +
      `all distinct automata ${(total / 1048576).toFixed(2)} MB, beyond one group ${(beyondOne / 1048576).toFixed(2)} MB`)
    expect(automata.size).toBe(1 + 2 * 1000)
    expect(beyondOne).toBeLessThan(3 * 1024 * 1024)
  })
})

describe('parseTermLines', () => {
  it('splits lines, trims and skips blanks', () => {
    expect(parseTermLines('加微信\r\n  私聊 \n\n法轮功\n')).toEqual(['加微信', '私聊', '法轮功'])
  })
})
