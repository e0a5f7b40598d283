/**
 * Optional test on the public lexicon (../shared/data/lexicon/all.txt). Skipped — with a clear message — when
 * the file is not there; every other test in this folder uses its own small fixtures.
 */
import { existsSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { MatcherFactory, parseTermLines } from './matcher'
import { normalize, normalizeTerm } from './normalize'

const LEXICON = resolve(__dirname, '../../../shared/data/lexicon/all.txt')
const present = existsSync(LEXICON)
if (!present) console.warn(`SKIPPED lexicon.test.ts: ${LEXICON} not found (optional test data).`)
const describeIfLexicon = present ? describe : describe.skip

describeIfLexicon('public lexicon (optional)', () => {
  const terms = present ? parseTermLines(readFileSync(LEXICON, 'utf8')) : []
  const factory = new MatcherFactory()
  const built = factory.registry.getWithReport(terms, { id: 'lexicon' })
  const matcher = factory.matcherFor({ lists: [built.list] })

  it('builds, rejecting only noise-only terms, within the memory goal', () => {
    expect(built.list.size).toBeGreaterThan(40000)
    for (const r of built.rejected) expect(normalizeTerm(r.term)).toBe('')
    expect(built.list.memoryBytes()).toBeLessThan(32 * 1024 * 1024)
  })

  it('finds lexicon terms through evasions, and matches the brute-force reference on sample texts', () => {
    const chinese = built.list.terms.filter((t) => /^[\u4e00-\u9fff]{3,6}$/.test(t)).slice(0, 200)
    const normTerms = built.list.terms.map(normalizeTerm)
    for (const [k, term] of chinese.entries()) {
      const evasive = Array.from(term).join(k % 2 === 0 ? '.' : '\u200b')
      const text = `大家好，${evasive}，谢谢`
      const found = matcher.scan(text)
      expect(found.some((m) => normalizeTerm(m.term) === normalizeTerm(term) && text.slice(m.start, m.end) === evasive)).toBe(true)
      if (k % 20 === 0) {
        const norm = normalize(text).text
        const expected = new Set<string>()
        normTerms.forEach((t, i) => {
          for (let p = norm.indexOf(t); p !== -1; p = norm.indexOf(t, p + 1)) expected.add(`${i}@${p}`)
        })
        const index = new Map(built.list.terms.map((t, i) => [t, i] as const))
        expect(new Set(found.map((m) => `${index.get(m.term)}@${m.normalizedStart}`))).toEqual(expected)
      }
    }
  })
})
