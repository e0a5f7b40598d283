/**
 * Text normalization: the one matching form of chat text for the whole product — moderation's word lists and
 * patterns, auto-reply triggers and check-in commands all read text through it.
 *
 * One lookup per UTF-16 code unit in a 65,536-entry table (built once, lazily, on first use) turns chat
 * text into the "matching form" that word lists are compiled against, and records for every normalized code
 * unit the index of the original character it came from, so a match can be reported on the original text.
 *
 * What the table does to each character (the same rules apply to list terms, see `normalizeTerm`):
 *  - compatibility folding (NFKC): full-width ASCII (U+FF01–FF5E) → ASCII, ideographic space → space,
 *    circled / parenthesized / full-stop digits and letters (①, ⑴, ⒈, ⓐ, Ⓐ, ㉑ …), Kangxi radicals and CJK
 *    compatibility ideographs → unified ideographs, Mathematical Alphanumeric Symbols (U+1D400–1D7FF, read
 *    as surrogate pairs) → ASCII letters and digits, ligatures (ﬁ → fi), half-width katakana …;
 *  - dingbat digits without a Unicode decomposition (❶–❿, ➀–➓, ➊–➓, ⓫–⓴, ⓵–⓾, ⓿) and negative circled /
 *    squared letters (🅐, 🅰) are folded by an explicit override list;
 *  - lower-casing, and removal of combining marks (é → e, ガ → カ; accents are stripped everywhere, so the
 *    precomposed and the decomposed spellings normalize alike);
 *  - decimal digits of any script → ASCII digits;
 *  - traditional → simplified Chinese for single characters (t2s-data.ts, generated from OpenCC);
 *  - NOISE REMOVAL: whatever is then not a letter or a digit (CJK ideographs are letters) is dropped —
 *    spaces, punctuation, symbols, emoji, zero-width and format characters (U+200B–200F, U+2060–2064,
 *    U+FEFF, U+00AD, variation selectors), invisible fillers (U+3164, U+115F, U+1160, U+FFA0), tag
 *    characters. So `加.V.信`, `加 v 信`, `加Ｖ信` and `加\u200Bv信` all become `加v信`;
 *  - WECHAT / WECOM EMOJI CODES: a bracketed word that is a known panel code (`[呲牙]`, `[强]`, `[Smile]`,
 *    see emoji-codes.ts; ASCII or full-width brackets, the word compared in matching form) is dropped whole,
 *    so `价格[呲牙]` reads `价格` and `加[呲牙]微信` reads `加微信`. Any other bracketed word (`[公告]`, `[1]`)
 *    keeps its letters and digits; only the brackets go, as noise.
 *
 * A character may fold to SEVERAL code units (⑩ → "10", ⒇ → "20", Ⅻ → "xii", ㍿ → "株式会社"): every produced
 * unit records the same original index. Multi-digit circled numbers therefore match the digits they show.
 * Planes 2–3 (CJK extensions B–H) are kept as they are (with OpenCC's t→s pairs for them); other
 * supplementary characters are folded like BMP ones in plane 1 (math letters, enclosed alphanumerics) and
 * dropped as noise otherwise (emoji, symbols, historic scripts, planes 4–16).
 * Known simplifications: no homoglyph folding across scripts (Cyrillic а ≠ Latin a), no pinyin/homophone
 * folding, regional indicator letters (🇨🇳) are dropped as emoji rather than read as letters.
 */
import { WECHAT_EMOJI_CODES } from './emoji-codes'
import { T2S_BMP_PAIRS, T2S_SUPPLEMENTARY_PAIRS } from './t2s-data'

/** Table value: the code unit is dropped (noise). */
const DROP = 0
/** Table values EXPANSION_BASE + k: the code unit expands to EXPANSIONS[k] (two or more code units). */
const EXPANSION_BASE = 0xd800
/** Table value: a high surrogate; the pair is looked up in the supplementary tables. */
const HIGH_SURROGATE = 0xdfff
/** Supplementary block value: keep the surrogate pair unchanged. */
const KEEP_PAIR = 0xdffe
/** Table value of `[` and `［`: may open a WeChat emoji code, which is dropped whole (see skipEmojiCode). */
const OPEN_BRACKET = 0xdffd
/** Largest expansion index that fits below the special values. */
const MAX_EXPANSIONS = OPEN_BRACKET - EXPANSION_BASE
/** Closing brackets of an emoji code: `]` and its full-width form. */
const CLOSE_BRACKET = 0x5d
const CLOSE_BRACKET_WIDE = 0xff3d
/** Longest inner text (code units) looked at for an emoji code: the longest name plus room for spaces. */
const MAX_CODE_UNITS = WECHAT_EMOJI_CODES.reduce((max, name) => Math.max(max, name.length), 0) + 4

/** Per-high-surrogate class of its 1,024 code points. */
const SUPP_DROP = 0
const SUPP_KEEP = 1
const SUPP_TABLE = 2

/** The compiled normalization tables (process-wide, immutable after build). */
interface Tables {
  /** Per BMP code unit: DROP, a folded unit, EXPANSION_BASE + k, or HIGH_SURROGATE. */
  bmp: Uint16Array
  /** Expansion strings, by index. */
  expansions: string[]
  /** Per high surrogate (0–1023): SUPP_DROP, SUPP_KEEP or SUPP_TABLE. */
  suppClass: Uint8Array
  /** For SUPP_TABLE high surrogates: per low surrogate, DROP / folded unit / expansion / KEEP_PAIR. */
  suppBlocks: Array<Uint16Array | undefined>
  /** Matching forms of the WeChat / WeCom emoji code names, hashed for skipEmojiCode. */
  emojiCodes: EmojiCodeTable
}

/**
 * The emoji code names in matching form: their code units back to back (`units`, name k at `starts[k]`,
 * `lengths[k]` long) and an open-addressing hash table `slots` (size a power of two; k + 1 per used slot,
 * 0 = empty) over hashStep of their units. Typed arrays with small-integer keys keep the lookup allocation-free.
 */
interface EmojiCodeTable {
  slots: Int32Array
  starts: Uint32Array
  lengths: Uint8Array
  units: Uint16Array
}

let tables: Tables | undefined

/** Code points that are invisible or formatting and must always be dropped, whatever their category. */
const ALWAYS_DROP: ReadonlyArray<[number, number]> = [
  [0x00ad, 0x00ad], [0x034f, 0x034f], [0x061c, 0x061c], [0x115f, 0x1160], [0x17b4, 0x17b5],
  [0x180b, 0x180f], [0x200b, 0x200f], [0x202a, 0x202e], [0x2060, 0x206f], [0x3164, 0x3164],
  [0xfe00, 0xfe0f], [0xfeff, 0xfeff], [0xffa0, 0xffa0], [0xfff0, 0xfffb],
]

/** Explicit folds for characters Unicode gives no (useful) decomposition. */
function overrides(): Map<number, string> {
  const map = new Map<number, string>()
  const digits = (start: number, count: number, first: number): void => {
    for (let i = 0; i < count; i++) map.set(start + i, String(first + i))
  }
  digits(0x2776, 10, 1) // ❶–❿ dingbat negative circled digits
  digits(0x2780, 10, 1) // ➀–➉ dingbat circled sans-serif digits
  digits(0x278a, 10, 1) // ➊–➓ dingbat negative circled sans-serif digits
  digits(0x24eb, 10, 11) // ⓫–⓴ negative circled numbers 11–20
  digits(0x24f5, 10, 1) // ⓵–⓾ double circled digits
  map.set(0x24ff, '0') // ⓿
  map.set(0x1f10b, '0') // 🄋
  map.set(0x1f10c, '0') // 🄌
  for (let i = 0; i < 26; i++) {
    const letter = String.fromCharCode(0x61 + i)
    map.set(0x1f150 + i, letter) // 🅐 negative circled latin capital letters
    map.set(0x1f170 + i, letter) // 🅰 negative squared latin capital letters
  }
  for (const [lo, hi] of ALWAYS_DROP) for (let cp = lo; cp <= hi; cp++) map.set(cp, '')
  return map
}

/** The t→s single-character map from the generated data. */
function t2sMap(): Map<number, number> {
  const map = new Map<number, number>()
  for (let i = 0; i + 1 < T2S_BMP_PAIRS.length; i += 2) map.set(T2S_BMP_PAIRS.charCodeAt(i), T2S_BMP_PAIRS.charCodeAt(i + 1))
  const cps = Array.from(T2S_SUPPLEMENTARY_PAIRS)
  for (let i = 0; i + 1 < cps.length; i += 2) {
    map.set((cps[i] as string).codePointAt(0) as number, (cps[i + 1] as string).codePointAt(0) as number)
  }
  return map
}

const LETTER_OR_DIGIT = /[\p{L}\p{N}]/u
const NOT_LETTER_OR_DIGIT = /[^\p{L}\p{N}]/gu
const MARKS = /\p{M}/gu
const DECIMAL_DIGIT = /\p{Nd}/u

/** Value 0–9 of a decimal digit of any script (Nd digits come in runs of ten starting at zero). */
function digitValue(cp: number): number {
  let start = cp
  while (start > 0 && cp - start < 9 && DECIMAL_DIGIT.test(String.fromCodePoint(start - 1))) start--
  return (cp - start) % 10
}

/** The matching form of one code point, as a string (empty = noise). Build-time only: slow but exact. */
function foldCodePoint(cp: number, over: Map<number, string>, t2s: Map<number, number>): string {
  const fixed = over.get(cp)
  if (fixed !== undefined) return fixed
  const ch = String.fromCodePoint(cp)
  const compat = ch.normalize('NFKC')
  if (compat === ch && !LETTER_OR_DIGIT.test(ch)) return '' // fast path: plain noise
  const folded = compat
    .toLowerCase()
    .normalize('NFD')
    .replace(MARKS, '')
    .normalize('NFC')
    .replace(NOT_LETTER_OR_DIGIT, '')
  let out = ''
  for (const part of folded) {
    let c = part.codePointAt(0) as number
    if (c > 0x7f && DECIMAL_DIGIT.test(part)) c = 0x30 + digitValue(c)
    const s = t2s.get(c)
    if (s !== undefined) c = s
    out += String.fromCodePoint(c)
  }
  return out
}

/**
 * True if every code point in [first, first + count) is plain noise: no override, no letter or digit, and
 * unchanged by NFKC (a character with a decomposition would change the block's string). Lets the table
 * builder skip whole blocks of symbols, emoji and unassigned code points with one normalize call.
 */
function plainNoise(first: number, count: number, over: Map<number, string>): boolean {
  let str = ''
  for (let cp = first; cp < first + count; cp++) {
    if (over.has(cp)) return false
    str += String.fromCodePoint(cp)
  }
  return !LETTER_OR_DIGIT.test(str) && str.normalize('NFKC') === str
}

/** Builds all tables (tens of milliseconds, once per process). */
function buildTables(): Tables {
  const over = overrides()
  const t2s = t2sMap()
  const bmp = new Uint16Array(0x10000)
  const expansions: string[] = []
  const expansionIndex = new Map<string, number>()
  /** Encodes a fold result as a table value. */
  const encode = (folded: string): number => {
    if (folded.length === 0) return DROP
    if (folded.length === 1) {
      const u = folded.charCodeAt(0)
      if (u < 0xd800 || u > 0xdfff) return u
    }
    let k = expansionIndex.get(folded)
    if (k === undefined) {
      k = expansions.length
      if (k >= MAX_EXPANSIONS) throw new Error('normalize: too many expansions for the table encoding')
      expansions.push(folded)
      expansionIndex.set(folded, k)
    }
    return EXPANSION_BASE + k
  }
  for (let cp = 0; cp < 0x10000; cp++) {
    if ((cp & 0xff) === 0 && (cp < 0x3400 || cp >= 0xa000) && (cp < 0xac00 || cp >= 0xe000) && plainNoise(cp, 256, over)) {
      cp += 255 // a whole block of noise: stays DROP
      continue
    }
    if (cp >= 0xd800 && cp <= 0xdfff) {
      bmp[cp] = cp <= 0xdbff ? HIGH_SURROGATE : DROP // a lone low surrogate is dropped
      continue
    }
    if (cp >= 0xe000 && cp <= 0xf8ff) continue // private use: noise
    // Fast path for the unified ideographs and Hangul syllables: letters that fold to themselves or via t2s.
    if ((cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0xac00 && cp <= 0xd7a3)) {
      const target = t2s.get(cp)
      // A few simplified forms live in CJK extension planes (勣 → 𪟝): those become 2-unit expansions.
      bmp[cp] = target === undefined ? cp : target <= 0xffff ? target : encode(String.fromCodePoint(target))
      continue
    }
    bmp[cp] = encode(foldCodePoint(cp, over, t2s))
  }
  const suppClass = new Uint8Array(1024)
  const suppBlocks: Array<Uint16Array | undefined> = new Array(1024)
  for (let hi = 0; hi < 1024; hi++) {
    const base = 0x10000 + (hi << 10)
    const plane = base >> 16
    if (plane >= 2 && plane <= 3) {
      // CJK extensions: letters; keep unless an explicit t→s pair exists in this block.
      let block: Uint16Array | undefined
      for (let lo = 0; lo < 1024; lo++) {
        const target = t2s.get(base + lo)
        if (target === undefined) continue
        if (block === undefined) block = new Uint16Array(1024).fill(KEEP_PAIR)
        block[lo] = encode(String.fromCodePoint(target))
      }
      suppClass[hi] = block === undefined ? SUPP_KEEP : SUPP_TABLE
      suppBlocks[hi] = block
    } else if (plane === 1) {
      if (plainNoise(base, 1024, over)) {
        suppClass[hi] = SUPP_DROP
        continue
      }
      const block = new Uint16Array(1024)
      let keptAny = false
      for (let lo = 0; lo < 1024; lo++) {
        const cp = base + lo
        const folded = foldCodePoint(cp, over, t2s)
        if (folded.length === 0) continue
        keptAny = true
        block[lo] = folded === String.fromCodePoint(cp) ? KEEP_PAIR : encode(folded)
      }
      suppClass[hi] = keptAny ? SUPP_TABLE : SUPP_DROP
      suppBlocks[hi] = keptAny ? block : undefined
    } else {
      suppClass[hi] = SUPP_DROP // planes 4–16: unassigned, tags, variation selectors, private use
    }
  }
  // A high surrogate whose whole block is noise (most emoji) is dropped straight from the BMP table: its low
  // half is dropped by its own entry, so the pair vanishes without leaving the fast path.
  for (let hi = 0; hi < 1024; hi++) if (suppClass[hi] === SUPP_DROP) bmp[0xd800 + hi] = DROP
  // Brackets are noise, but an opening one sends the scan to the slow path to check for an emoji code.
  bmp[0x5b] = OPEN_BRACKET
  bmp[0xff3b] = OPEN_BRACKET
  return { bmp, expansions, suppClass, suppBlocks, emojiCodes: emojiCodeTable(bmp) }
}

/** Folds the emoji code names through the BMP table and hashes them (see EmojiCodeTable). */
function emojiCodeTable(bmp: Uint16Array): EmojiCodeTable {
  const words: number[][] = []
  const seen = new Set<string>()
  names: for (const name of WECHAT_EMOJI_CODES) {
    const word: number[] = []
    for (let k = 0; k < name.length; k++) {
      const m = bmp[name.charCodeAt(k)] as number
      if (m === DROP) continue
      // skipEmojiCode only reads plain units; a test checks that every listed name is known.
      if (m >= 0xd800 && m <= 0xdfff) continue names
      word.push(m)
    }
    const key = String.fromCharCode(...word)
    if (word.length === 0 || seen.has(key)) continue
    seen.add(key)
    words.push(word)
  }
  let size = 16
  while (size < words.length * 4) size *= 2
  const table: EmojiCodeTable = {
    slots: new Int32Array(size), starts: new Uint32Array(words.length), lengths: new Uint8Array(words.length),
    units: new Uint16Array(words.reduce((sum, w) => sum + w.length, 0)),
  }
  let at = 0
  words.forEach((word, k) => {
    table.starts[k] = at
    table.lengths[k] = word.length
    table.units.set(word, at)
    at += word.length
    let slot = word.reduce(hashStep, 0) & (size - 1)
    while (table.slots[slot] !== 0) slot = (slot + 1) & (size - 1)
    table.slots[slot] = k + 1
  })
  return table
}

/** One step of the hash of a folded word's code units (emoji code names and the bracketed words of a text). */
function hashStep(hash: number, unit: number): number {
  return (Math.imul(hash, 31) + unit) | 0
}

/** The process-wide normalization tables, built on first use. */
function getTables(): Tables {
  if (tables === undefined) tables = buildTables()
  return tables
}

/** Builds the normalization tables now (otherwise done on first use), e.g. at start-up or before timing. */
export function warmUpNormalizer(): void {
  getTables()
}

/** The per-code-unit table (read-only view): 0 = drop, 0xD800+k = expansion k, 0xDFFF = high surrogate. */
export function normalizationTable(): Uint16Array {
  return getTables().bmp
}

/** A normalized view of a text: `units[0..length)` with `offsets[k]` = source index of unit k's character. */
export interface NormalizedText {
  /** The original text. */
  readonly source: string
  /** Normalized UTF-16 code units; only the first `length` are meaningful. */
  readonly units: Uint16Array
  /** For each normalized unit, the index in `source` of the character it came from. */
  readonly offsets: Uint32Array
  /** Number of normalized code units. */
  readonly length: number
}

/** Index in `source` just past the character starting at `offset` (one unit, or two for a surrogate pair). */
export function originalEnd(source: string, offset: number): number {
  const c = source.charCodeAt(offset)
  if (c >= 0xd800 && c <= 0xdbff) {
    const d = source.charCodeAt(offset + 1)
    if (d >= 0xdc00 && d <= 0xdfff) return offset + 2
  }
  return offset + 1
}

/**
 * Reusable normalizer: `run(text)` fills internal buffers (grown as needed, never shrunk) and returns them
 * as a NormalizedText view that stays valid until the next `run`. No allocation per call in steady state.
 */
export class Normalizer implements NormalizedText {
  source = ''
  units: Uint16Array
  offsets: Uint32Array
  length = 0

  /** Creates a normalizer with buffers for texts of about `capacity` code units. */
  constructor(capacity = 256) {
    this.units = new Uint16Array(capacity)
    this.offsets = new Uint32Array(capacity)
  }

  /** Normalizes `text` into the reusable buffers and returns this view. */
  run(text: string): NormalizedText {
    const table = getTables().bmp
    this.begin(text)
    const L = text.length
    let units = this.units
    let offsets = this.offsets
    let n = 0
    for (let i = 0; i < L; i++) {
      const m = table[text.charCodeAt(i)] as number
      if (m === DROP) continue
      if (m < 0xd800 || m > 0xdfff) {
        units[n] = m
        offsets[n] = i
        n++
        continue
      }
      this.length = n
      i = this.appendSpecial(text, i, m)
      n = this.length
      units = this.units
      offsets = this.offsets
    }
    this.length = n
    return this
  }

  /**
   * Starts a normalization of `text` done by the caller (fused scans, see Automaton.scanText): sets the
   * source, empties the view and makes room for at least one unit per source unit.
   */
  begin(text: string): void {
    this.source = text
    this.length = 0
    if (this.units.length < text.length) this.grow(text.length)
  }

  /**
   * The slow path of normalization, for a unit whose table value `m` is special (an expansion, a high
   * surrogate or an opening bracket): appends what the character at `i` produces at `this.length` (growing
   * the buffers if needed; re-read `units`/`offsets` afterwards) and returns the index of the last source
   * unit it consumed (the closing bracket of an emoji code, which produces nothing).
   */
  appendSpecial(text: string, i: number, m: number): number {
    if (m === OPEN_BRACKET) return skipEmojiCode(text, i)
    const t = getTables()
    const at = i
    let n = this.length
    let value = m
    if (m === HIGH_SURROGATE) {
      const lo = i + 1 < text.length ? text.charCodeAt(i + 1) : 0
      if (lo < 0xdc00 || lo > 0xdfff) return i // lone high surrogate: dropped
      i++
      const hi = text.charCodeAt(at) - 0xd800
      const cls = t.suppClass[hi] as number
      if (cls === SUPP_DROP) return i
      value = cls === SUPP_KEEP ? KEEP_PAIR : ((t.suppBlocks[hi] as Uint16Array)[lo - 0xdc00] as number)
      if (value === DROP) return i
      if (value === KEEP_PAIR) {
        // Two units out for two units in: the capacity invariant (room for n + remaining input) holds.
        this.units[n] = hi + 0xd800
        this.offsets[n] = at
        this.units[n + 1] = lo
        this.offsets[n + 1] = at
        this.length = n + 2
        return i
      }
      if (value < 0xd800 || value > 0xdfff) {
        this.units[n] = value
        this.offsets[n] = at
        this.length = n + 1
        return i
      }
    }
    const exp = t.expansions[value - EXPANSION_BASE] as string
    const need = n + exp.length + (text.length - i)
    if (need > this.units.length) this.grow(need)
    const units = this.units
    const offsets = this.offsets
    for (let k = 0; k < exp.length; k++) {
      units[n] = exp.charCodeAt(k)
      offsets[n] = at
      n++
    }
    this.length = n
    return i
  }

  /** The normalized text of the last `run` as a string. */
  text(): string {
    return unitsToString(this.units, this.length)
  }

  /** Grows both buffers to hold at least `min` units, keeping their contents. */
  private grow(min: number): void {
    let cap = Math.max(16, this.units.length)
    while (cap < min) cap *= 2
    const units = new Uint16Array(cap)
    const offsets = new Uint32Array(cap)
    units.set(this.units.subarray(0, this.length))
    offsets.set(this.offsets.subarray(0, this.length))
    this.units = units
    this.offsets = offsets
  }
}

/** The first `length` code units of `units` as a string (chunked to stay under argument limits). */
export function unitsToString(units: Uint16Array, length: number): string {
  let out = ''
  for (let i = 0; i < length; i += 8192) {
    out += String.fromCharCode.apply(null, units.subarray(i, Math.min(length, i + 8192)) as unknown as number[])
  }
  return out
}

/** The folded units of the bracketed word skipEmojiCode is looking at (a code name is at most this long). */
const wordUnits = new Uint16Array(MAX_CODE_UNITS + 2)

/**
 * For an opening bracket at `i`: the index of the matching closing bracket when the bracketed word is a
 * WeChat / WeCom emoji code (the whole code is then dropped), else `i` (only the bracket is dropped). One pass
 * folds the word through the table and hashes it; no string is built.
 */
function skipEmojiCode(text: string, i: number): number {
  const t = getTables()
  const bmp = t.bmp
  const end = Math.min(text.length, i + 2 + MAX_CODE_UNITS)
  let hash = 0
  let n = 0
  for (let j = i + 1; j < end; j++) {
    const c = text.charCodeAt(j)
    if (c === CLOSE_BRACKET || c === CLOSE_BRACKET_WIDE) return n > 0 && knownCode(t.emojiCodes, hash, n) ? j : i
    const m = bmp[c] as number
    if (m === DROP) continue
    // Another opening bracket (the next code may start there), a surrogate pair or an expansion: no name has one.
    if (m >= 0xd800 && m <= 0xdfff) return i
    wordUnits[n++] = m
    hash = hashStep(hash, m)
  }
  return i
}

/** Whether the first `n` units of wordUnits (whose hash is `hash`) spell an emoji code name. */
function knownCode(codes: EmojiCodeTable, hash: number, n: number): boolean {
  const mask = codes.slots.length - 1
  for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
    const k = (codes.slots[slot] as number) - 1
    if (k < 0) return false
    if (codes.lengths[k] !== n) continue
    const start = codes.starts[k] as number
    let same = true
    for (let u = 0; u < n && same; u++) same = codes.units[start + u] === wordUnits[u]
    if (same) return true
  }
}

/** Whether `word` (the text between the brackets) is a WeChat / WeCom emoji code name, e.g. `呲牙` or `Smile`. */
export function isEmojiCode(word: string): boolean {
  return word.length <= MAX_CODE_UNITS && skipEmojiCode(`[${word}]`, 0) === word.length + 1
}

// Bracketed words that may be emoji codes, and Unicode emoji with their joiners, selectors and modifiers.
const BRACKETED = /[[［]([^[\]［］]{1,32})[\]］]/g
const EMOJI = /[\p{Extended_Pictographic}\p{Emoji_Modifier}\p{Regional_Indicator}\u200d\ufe0e\ufe0f\u20e3]/gu

/**
 * `text` without WeChat / WeCom emoji codes and Unicode emoji, everything else (spaces, punctuation, digits)
 * left as it is: for parsers that need the punctuation normalization drops (dates such as `11-20`).
 */
export function stripEmoji(text: string): string {
  return text.replace(BRACKETED, (code, word: string) => (isEmojiCode(word) ? '' : code)).replace(EMOJI, '')
}

/** An @-mention as WeChat writes it: `@` (or `＠`) and a display name, ended by U+2005 or a space. */
const MENTION = /[@＠][^\s\u2005@＠]+[\s\u2005]?/g

/** `text` without its @-mentions (`@群运助手\u2005签到` → `签到`). */
export function withoutMentions(text: string): string {
  return text.includes('@') || text.includes('＠') ? text.replace(MENTION, '') : text
}

const shared = new Normalizer()

/** Normalizes `text` (fresh copies): the matching form and, per code unit, its index in `text`. */
export function normalize(text: string): { text: string; offsets: Uint32Array } {
  const view = shared.run(text)
  return { text: unitsToString(view.units, view.length), offsets: view.offsets.slice(0, view.length) }
}

/** The matching form of a list term or exception (same rules as for text); '' if it is only noise. */
export function normalizeTerm(term: string): string {
  const view = shared.run(term)
  return unitsToString(view.units, view.length)
}

/**
 * The matching form of a chat command (`签到`, `补签 昨天`): @-mentions removed, then normalized like
 * everything else, so `签到！`, `@群运助手 签到`, `ＱＤ`, `簽到`, `签到[呲牙]` and `打卡✅` read `签到` / `qd` / `打卡`.
 */
export function normalizeCommand(text: string): string {
  return normalizeTerm(withoutMentions(text))
}

/**
 * The original text of a command after its first `units` normalized code units — the raw argument after
 * the keyword (`补签 11-20` with the 2 units of `补签` → ` 11-20`), @-mentions removed.
 */
export function commandArgument(text: string, units: number): string {
  const source = withoutMentions(text)
  if (units <= 0) return source
  const view = shared.run(source)
  if (units > view.length) return ''
  return source.slice(originalEnd(source, view.offsets[units - 1] as number))
}
