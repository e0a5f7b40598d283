/**
 * The committed traditional → simplified table (t2s-data.ts) against opencc-js (a devDependency; the runtime
 * never loads it): every table entry, every Han character of the public lexicon
 * (../shared/data/lexicon/all.txt — that part is skipped, with a clear message, when the file is not there),
 * and the generator reproducing the committed table.
 */
import { existsSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { deriveT2S, gb2312Hanzi, loadOpenCC, simplifiedCharacters } from '../../bench/matcher/gen-t2s'
import { normalizeTerm } from './normalize'
import { T2S_BMP_PAIRS, T2S_SUPPLEMENTARY_PAIRS } from './t2s-data'

const loaded = loadOpenCC()
if (!loaded) throw new Error('opencc-js (a devDependency) is not installed: run npm install')
const opencc = loaded.opencc
const t2cn = opencc.Converter({ from: 't', to: 'cn' })
const hk2cn = opencc.Converter({ from: 'hk', to: 'cn' })
const tw2cn = opencc.Converter({ from: 'tw', to: 'cn' })
const simplified = simplifiedCharacters(opencc)

/** The committed pairs, traditional → simplified. */
function committedPairs(): Map<string, string> {
  const map = new Map<string, string>()
  for (let i = 0; i + 1 < T2S_BMP_PAIRS.length; i += 2) map.set(T2S_BMP_PAIRS[i] as string, T2S_BMP_PAIRS[i + 1] as string)
  const cps = Array.from(T2S_SUPPLEMENTARY_PAIRS)
  for (let i = 0; i + 1 < cps.length; i += 2) map.set(cps[i] as string, cps[i + 1] as string)
  return map
}
const pairs = committedPairs()

/** Our conversion of one Han character, as the normalizer applies it. */
const ours = (ch: string): string => normalizeTerm(ch)

describe('t2s table against opencc-js', () => {
  it('has OpenCC’s character conversion for every entry (or its hk / tw variant conversion for regional forms)', () => {
    expect(pairs.size).toBeGreaterThan(3000)
    const mainland = gb2312Hanzi()
    const wrong: string[] = []
    for (const [trad, simp] of pairs) {
      if (ours(trad) !== simp) wrong.push(`${trad}: normalizer gives ${ours(trad)}, table ${simp}`)
      // Only traditional-only characters are mapped.
      if (simplified.has(trad.codePointAt(0) as number)) wrong.push(`${trad} is a valid simplified character`)
      const viaT = t2cn(trad)
      if (viaT !== trad) {
        if (viaT !== simp) wrong.push(`${trad}: table ${simp}, opencc t→cn ${viaT}`)
      } else {
        // A regional variant form: never a mainland character, and the hk or tw preset agrees.
        if (mainland.has(trad.codePointAt(0) as number)) wrong.push(`${trad}: regional variant in GB2312`)
        const variant = hk2cn(trad) !== trad ? hk2cn(trad) : tw2cn(trad)
        if (variant !== simp) wrong.push(`${trad}: table ${simp}, opencc hk/tw→cn ${variant}`)
      }
    }
    expect(wrong).toEqual([])
  })

  it('is what the generator derives from opencc-js now (the committed table is up to date)', () => {
    const derived = new Map(deriveT2S(opencc).map((e) => [String.fromCodePoint(e.from), String.fromCodePoint(e.to)]))
    expect(derived).toEqual(pairs)
  })
})

const LEXICON = resolve(__dirname, '../../../shared/data/lexicon/all.txt')
const present = existsSync(LEXICON)
if (!present) console.warn(`SKIPPED part of t2s.test.ts: ${LEXICON} not found (optional test data).`)
const describeIfLexicon = present ? describe : describe.skip

describeIfLexicon('t2s on the public lexicon (optional)', () => {
  it('converts every Han character of the lexicon as opencc-js t→cn does, except valid simplified characters', () => {
    const han = /\p{Script=Han}/u
    const chars = new Set<string>()
    for (const ch of readFileSync(LEXICON, 'utf8')) if (han.test(ch) && ch.normalize('NFKC') === ch) chars.add(ch)
    expect(chars.size).toBeGreaterThan(3000)
    const differences: string[] = []
    const keptSimplified: string[] = []
    for (const ch of chars) {
      const expected = t2cn(ch)
      if (ours(ch) === expected) continue
      // Two deliberate kinds of difference: a valid simplified character OpenCC's table still converts (麽),
      // kept as it is; a regional variant form OpenCC's t→cn leaves, converted by its hk / tw preset.
      if (ours(ch) === ch && simplified.has(ch.codePointAt(0) as number)) keptSimplified.push(ch)
      else if (expected === ch && pairs.get(ch) === ours(ch)) continue
      else differences.push(`${ch}: ours ${ours(ch)}, opencc ${expected}`)
    }
    expect(differences).toEqual([])
    // Only the handful of characters that are both a TSCharacters key and an STCharacters key.
    expect(keptSimplified.every((ch) => '緼苧藴輼醖麽'.includes(ch))).toBe(true)
  })
})
