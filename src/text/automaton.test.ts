import fc from 'fast-check'
import { Automaton, EMPTY_TERM_REASON, Hits, WordList, type MatchResult } from './automaton'
import { TextMatcher } from './matcher'
import { Normalizer, normalize, normalizeTerm } from './normalize'

/** All matches of `list` in `text`, through a fresh normalizer. */
function matches(list: WordList, text: string): MatchResult[] {
  return list.matches(new Normalizer().run(text))
}

/** Compact description of matches for assertions: term@[start,end) in the original text. */
function spans(list: WordList, text: string): string[] {
  return matches(list, text).map((m) => `${m.term}@${m.start}-${m.end}`).sort()
}

/** Brute-force reference: for every distinct normalized term, every indexOf occurrence in the normalized text. */
function reference(terms: readonly string[], text: string): Set<string> {
  const norm = normalize(text).text
  const out = new Set<string>()
  for (const t of new Set(terms.map(normalizeTerm))) {
    if (t.length === 0) continue
    for (let p = norm.indexOf(t); p !== -1; p = norm.indexOf(t, p + 1)) out.add(`${t}@${p}`)
  }
  return out
}

/** The automaton's matches in the same form as `reference`. */
function automatonSet(list: WordList, text: string): Set<string> {
  return new Set(matches(list, text).map((m) => `${normalizeTerm(m.term)}@${m.normalizedStart}`))
}

describe('WordList: Aho–Corasick matching', () => {
  it('reports every overlapping match (she / he / hers)', () => {
    const { list } = WordList.build('en', 'english', ['he', 'she', 'his', 'hers'])
    expect(spans(list, 'ushers')).toEqual(['he@2-4', 'hers@2-6', 'she@1-4'])
  })

  it('reports overlapping Chinese terms, including terms inside terms', () => {
    const { list } = WordList.build('zh', 'chinese', ['加微信', '微信', '微信群', '信', '群公告'])
    expect(spans(list, '加微信群公告')).toEqual(['信@2-3', '加微信@0-3', '微信@1-3', '微信群@1-4', '群公告@3-6'])
  })

  it('matches through every evasion and reports the original span covering it', () => {
    const { list } = WordList.build('ads', 'ads', ['加v信'])
    for (const evasive of ['加.V.信', '加 v 信', '加Ｖ信', '加ｖ信', '加\u200bV\u200c信', '加𝐕信', '加V信']) {
      const text = `你好，${evasive}！谢谢`
      const found = matches(list, text)
      expect(found).toHaveLength(1)
      const m = found[0] as MatchResult
      expect(m.term).toBe('加v信')
      expect(m.listId).toBe('ads')
      expect(text.slice(m.start, m.end)).toBe(evasive)
      expect([m.normalizedStart, m.normalizedEnd]).toEqual([2, 5])
    }
  })

  it('matches traditional spellings of simplified terms and the reverse', () => {
    const { list } = WordList.build('zh', 'zh', ['加微信群', '發財'])
    expect(spans(list, '快加微信羣')).toEqual(['加微信群@1-5'])
    expect(spans(list, '恭喜发财')).toEqual(['發財@2-4'])
  })

  it('matches circled digits as digits and math letters as letters', () => {
    const { list } = WordList.build('n', 'numbers', ['qq123', 'vip'])
    expect(spans(list, 'ＱＱ①②③')).toEqual(['qq123@0-5'])
    expect(spans(list, '𝐕𝐈𝐏会员')).toEqual(['vip@0-6'])
  })

  it('folds case in terms and text alike', () => {
    const { list } = WordList.build('c', 'case', ['WeChat'])
    expect(spans(list, 'add me on WECHAT or wechat')).toEqual(['WeChat@10-16', 'WeChat@20-26'])
  })

  it('normalizes terms that contain noise (term 加 V matches 加v)', () => {
    const { list } = WordList.build('t', 't', ['加 V'])
    expect(list.automaton.terms).toEqual(['加 V'])
    expect(spans(list, '请加v')).toEqual(['加 V@1-3'])
    expect(spans(list, '请加...v')).toEqual(['加 V@1-6'])
  })

  it('rejects terms that are empty after normalization, with a reason', () => {
    const built = WordList.build('t', 't', ['...', '加微信', ' \u200b ', '😂😂', '&'])
    expect(built.list.terms).toEqual(['加微信'])
    expect(built.rejected.map((r) => r.term)).toEqual(['...', ' \u200b ', '😂😂', '&'])
    for (const r of built.rejected) expect(r.reason).toBe(EMPTY_TERM_REASON)
  })

  it('deduplicates terms with the same normalized form, keeping the first spelling', () => {
    const built = WordList.build('t', 't', ['加V信', '加v信', '加Ｖ信', '加V信'])
    expect(built.list.terms).toEqual(['加V信'])
    expect(built.duplicates).toEqual([
      { term: '加v信', duplicateOf: '加V信' },
      { term: '加Ｖ信', duplicateOf: '加V信' },
      { term: '加V信', duplicateOf: '加V信' },
    ])
    expect(spans(built.list, '加v信')).toEqual(['加V信@0-3'])
  })

  it('accepts an already-normalized string, with identity offsets', () => {
    const { list } = WordList.build('t', 't', ['ab', 'b'])
    const seen: Array<[number, number, number]> = []
    expect(list.match('xabx', (t, s, e) => { seen.push([t, s, e]) })).toBe(2)
    expect(seen).toEqual([[0, 1, 3], [1, 2, 3]])
  })

  it('stops when the sink returns true', () => {
    const { list } = WordList.build('t', 't', ['a'])
    let calls = 0
    expect(list.match('aaaa', () => ++calls === 2)).toBe(2)
    expect(calls).toBe(2)
  })

  it('collects into a Hits buffer and honours the limit', () => {
    const a = new Automaton(['a', 'aa'])
    const hits = new Hits(1)
    expect(a.collect(new Normalizer().run('aaaa'), hits)).toBe(7)
    expect(hits.size).toBe(7)
    hits.count = 0
    expect(a.collect(new Normalizer().run('aaaa'), hits, 2)).toBe(2)
    expect(a.test(new Normalizer().run('xyz'))).toBe(false)
    expect(a.test(new Normalizer().run('xaz'))).toBe(true)
  })

  it('scanText normalizes and matches in one pass, leaving the full normalized view', () => {
    const a = new Automaton(Array.from({ length: 300 }, (_, k) => String.fromCharCode(0x4e00 + k) + '群'))
    const normalizer = new Normalizer()
    const hits = new Hits()
    const text = '丁.群⑩😂𠀀丂群'
    expect(a.scanText(text, normalizer, hits)).toBe(2)
    expect(normalizer.text()).toBe(normalize(text).text)
    expect(Array.from(normalizer.offsets.subarray(0, normalizer.length))).toEqual(Array.from(normalize(text).offsets))
    hits.count = 0
    expect(a.scanText(text, normalizer, hits, 1)).toBe(1)
    expect(normalizer.text()).toBe(normalize(text).text) // completed despite the early stop
    // Without the units (single-list callers), hits and offsets are the same.
    const full = new Hits()
    a.scanText(text, normalizer, full)
    const lean = new Hits()
    a.scanText(text, normalizer, lean, undefined, true, false)
    expect(Array.from(lean.data.subarray(0, lean.count))).toEqual(Array.from(full.data.subarray(0, full.count)))
    expect(Array.from(normalizer.offsets.subarray(0, normalizer.length))).toEqual(Array.from(normalize(text).offsets))
  })

  it('uses the compact symbol map for small lists and the dense one for large lists, with the same results', () => {
    const small = new Automaton(['加微信', '微信'])
    const large = new Automaton([...Array.from({ length: 400 }, (_, k) => String.fromCharCode(0x4e00 + k) + '号'), '加微信', '微信'])
    expect(small.alphabetSize).toBeLessThanOrEqual(256)
    expect(large.alphabetSize).toBeGreaterThan(256)
    const view = new Normalizer().run('快加微信，丁号') // normalized: 快加微信丁号 (positions below are normalized)
    const got = (a: Automaton): string[] => {
      const out: string[] = []
      a.match(view, (t, s, e) => { out.push(`${a.terms[t]}@${s}-${e}`) })
      return out.sort()
    }
    expect(got(small)).toEqual(['加微信@1-4', '微信@2-4'])
    expect(got(large)).toEqual(['丁号@4-6', '加微信@1-4', '微信@2-4'])
  })

  it('reports its memory from its typed arrays and terms', () => {
    const a = new Automaton(['加微信', '微信'])
    expect(a.memoryBytes()).toBeGreaterThan(0)
    expect(a.memoryBytes()).toBeLessThan(4096)
  })
})

describe('WordList: property-based comparison with a brute-force reference', () => {
  const letters = ['a', 'b', 'A', 'Ｂ', '加', '微', '信', 'v', 'V', 'Ｖ', '群', '羣', '发', '發']
  // Emoji codes ([强] and its full-width form vanish whole) and lone brackets (noise) mixed in too.
  const noise = ['.', ' ', '\u200b', '*', '😂', '　', '-', '[强]', '［OK］', '[', ']']
  const letter = fc.constantFrom(...letters)
  const noisy = fc.oneof({ weight: 4, arbitrary: letter }, { weight: 1, arbitrary: fc.constantFrom(...noise) })
  const term = fc.array(noisy, { minLength: 1, maxLength: 4 }).map((cs) => cs.join(''))
  const text = fc.array(noisy, { minLength: 0, maxLength: 60 }).map((cs) => cs.join(''))

  it('finds exactly the indexOf occurrences of every normalized term, with correct original spans', () => {
    fc.assert(
      fc.property(fc.array(term, { minLength: 1, maxLength: 20 }), text, (terms, t) => {
        const { list } = WordList.build('p', 'p', terms)
        expect(automatonSet(list, t)).toEqual(reference(terms, t))
        for (const m of matches(list, t)) {
          // The original span starts and ends on a kept character, so it normalizes to the term itself.
          expect(normalizeTerm(t.slice(m.start, m.end))).toBe(normalizeTerm(m.term))
        }
      }),
      { numRuns: 400 },
    )
  })

  it('agrees with the reference on large alphabets (dense symbol map, fused scan) too', () => {
    // 0x4e00–0x4f8f: the first 400 are in the alphabet, the last 0x20 are in no term (symbol 0).
    const cjk = fc.integer({ min: 0, max: 399 + 32 }).map((k) => String.fromCharCode(0x4e00 + k))
    const cjkOrNoise = fc.oneof({ weight: 5, arbitrary: cjk }, { weight: 1, arbitrary: fc.constantFrom(...noise) })
    // Half the terms are prefixes/suffixes of each other to exercise failure and output links.
    const cjkTerm = fc.array(fc.integer({ min: 0, max: 7 }).map((k) => String.fromCharCode(0x4e00 + k)), { minLength: 1, maxLength: 4 }).map((cs) => cs.join(''))
    fc.assert(
      fc.property(
        fc.array(cjkTerm, { minLength: 1, maxLength: 30 }),
        fc.array(cjkOrNoise, { minLength: 0, maxLength: 80 }).map((cs) => cs.join('')),
        (terms, t) => {
          // 400 single-character filler terms force an alphabet above the compact limit.
          const all = [...terms, ...Array.from({ length: 400 }, (_, k) => String.fromCharCode(0x4e00 + k) + String.fromCharCode(0x5000 + k))]
          const { list } = WordList.build('p', 'p', all)
          expect(list.automaton.alphabetSize).toBeGreaterThan(256)
          const expected = reference(all, t)
          expect(automatonSet(list, t)).toEqual(expected)
          // The fused normalize-and-match path (TextMatcher with one list and no exceptions).
          const fused = new TextMatcher([list]).scan(t)
          expect(new Set(fused.map((m) => `${normalizeTerm(m.term)}@${m.normalizedStart}`))).toEqual(expected)
          for (const m of fused) expect(normalizeTerm(t.slice(m.start, m.end))).toBe(normalizeTerm(m.term))
        },
      ),
      { numRuns: 100 },
    )
  })

  it('agrees with the reference when characters expand (⑩ → 10) and spans still cover the match', () => {
    const unit = fc.constantFrom('1', '0', '⑩', '①', '⓪', 'x', '.', '⑳', '2')
    fc.assert(
      fc.property(
        fc.array(fc.array(unit, { minLength: 1, maxLength: 3 }).map((cs) => cs.join('')), { minLength: 1, maxLength: 10 }),
        fc.array(unit, { maxLength: 40 }).map((cs) => cs.join('')),
        (terms, t) => {
          const { list } = WordList.build('p', 'p', terms)
          expect(automatonSet(list, t)).toEqual(reference(terms, t))
          for (const m of matches(list, t)) expect(normalizeTerm(t.slice(m.start, m.end))).toContain(normalizeTerm(m.term))
        },
      ),
      { numRuns: 300 },
    )
  })
})
