import { WECHAT_EMOJI_CODES } from './emoji-codes'
import {
  Normalizer, commandArgument, isEmojiCode, normalizationTable, normalize, normalizeCommand, normalizeTerm, originalEnd, stripEmoji,
  unitsToString, withoutMentions,
} from './normalize'

describe('normalize: evasions from the issue all become 加v信', () => {
  const cases: Array<[string, string]> = [
    ['dots between letters', '加.V.信'],
    ['spaces between letters', '加 v 信'],
    ['full-width capital V', '加Ｖ信'],
    ['full-width small v', '加ｖ信'],
    ['zero-width space and joiner', '加\u200bV\u200d信'],
    ['BOM, word joiner, soft hyphen', '加\ufeffv\u2060\u00ad信'],
    ['ideographic space', '加　v　信'],
    ['emoji and punctuation', '加😂V！信'],
    ['mathematical bold V', '加𝐕信'],
    ['mathematical italic v', '加𝑣信'],
    ['circled letter', '加ⓥ信'],
    ['variation selector', '加v\ufe0f信'],
  ]
  it.each(cases)('%s: %j', (_label, text) => {
    expect(normalize(text).text).toBe('加v信')
  })
})

describe('normalize: folds', () => {
  it('folds ASCII case and full-width ASCII', () => {
    expect(normalize('HeLLo WORLD').text).toBe('helloworld')
    expect(normalize('ＡＢＣ１２３ｘｙｚ').text).toBe('abc123xyz')
  })

  it('folds circled, parenthesized, full-stop and dingbat digits', () => {
    expect(normalize('①②③').text).toBe('123')
    expect(normalize('⑴⑵⒈⒉').text).toBe('1212')
    expect(normalize('❶➁➌⓵⓿⓪').text).toBe('123100')
  })

  it('expands multi-digit circled numbers to their digits, every unit pointing at the source character', () => {
    const r = normalize('加⑩⑳')
    expect(r.text).toBe('加1020')
    expect(Array.from(r.offsets)).toEqual([0, 1, 1, 2, 2])
  })

  it('folds circled and negative squared letters and Mathematical Alphanumeric Symbols', () => {
    expect(normalize('ⓐⒶ🅐🅰🄰').text).toBe('aaaaa')
    expect(normalize('𝐕𝐈𝐏 𝒗𝒊𝒑 𝟏𝟐 𝔸').text).toBe('vipvip12a')
  })

  it('converts traditional to simplified Chinese character by character', () => {
    expect(normalize('加微信羣').text).toBe('加微信群')
    expect(normalize('發財後臺網').text).toBe('发财后台网')
    expect(normalize('加微信群').text).toBe('加微信群') // simplified text is unchanged
  })

  it('leaves valid simplified characters alone and converts one-to-many traditional ones as OpenCC does', () => {
    const cases: Array<[string, string]> = [
      ['怎么看', '怎么看'], ['干杯', '干杯'], ['乾杯', '干杯'], ['後來', '后来'], ['頭髮', '头发'], ['面條', '面条'],
      ['發展', '发展'], ['里面', '里面'], ['台灣', '台湾'], ['什麼', '什么'], ['幹活', '干活'], ['裏面', '里面'],
      ['裡面', '里面'], ['臺灣', '台湾'], ['颱風', '台风'], ['檯燈', '台灯'], ['麵條', '面条'], ['係數', '系数'], ['聯繫', '联系'],
      ['以後', '以后'], ['皇后', '皇后'], ['著名', '著名'], ['衞生', '卫生'],
    ]
    for (const [text, expected] of cases) expect([text, normalize(text).text]).toEqual([text, expected])
    // Already simplified: each maps to itself (么 used to turn into 幺).
    for (const ch of '么干后里发面系台著') expect(normalizeTerm(ch)).toBe(ch)
  })

  it('folds compatibility ideographs, Kangxi radicals and accents', () => {
    expect(normalize('⼀㊣').text).toBe('一正')
    expect(normalize('café cafe\u0301').text).toBe('cafecafe')
  })

  it('drops zero-width and format characters, whatever their category', () => {
    const invisible = [0x200b, 0x200c, 0x200d, 0x200e, 0x200f, 0x2060, 0x2061, 0x2062, 0x2063, 0x2064, 0xfeff, 0x00ad, 0x3164]
    for (let cp = 0xfe00; cp <= 0xfe0f; cp++) invisible.push(cp)
    for (const cp of invisible) expect(normalize(`a${String.fromCodePoint(cp)}b`).text).toBe('ab')
  })

  it('maps the ideographic space to a space, which is noise like every space', () => {
    expect(normalizationTable()[0x3000]).toBe(0)
    expect(normalize('a　b').text).toBe('ab')
  })

  it('keeps CJK extension characters as surrogate pairs and drops unpaired surrogates', () => {
    const r = normalize('𠀀a')
    expect(r.text).toBe('𠀀a')
    expect(Array.from(r.offsets)).toEqual([0, 0, 2])
    expect(normalize('\ud800a\udc00b').text).toBe('ab')
    expect(normalize('a\ud83d').text).toBe('a')
  })

  it('treats noise-only terms as empty', () => {
    expect(normalizeTerm('...')).toBe('')
    expect(normalizeTerm(' \u200b😂 ')).toBe('')
    expect(normalizeTerm('加 V')).toBe('加v')
  })

  it('is idempotent on every BMP character', () => {
    const bad: string[] = []
    for (let cp = 0; cp < 0x10000; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue
      const once = normalizeTerm(String.fromCharCode(cp))
      if (normalizeTerm(once) !== once) bad.push(cp.toString(16))
    }
    expect(bad).toEqual([])
  })
})

describe('normalize: offsets map each normalized unit back to the original text', () => {
  it('points at the source index of every kept character', () => {
    const r = normalize('请加.V.信')
    expect(r.text).toBe('请加v信')
    expect(Array.from(r.offsets)).toEqual([0, 1, 3, 5])
  })

  it('points at the high surrogate of a folded surrogate pair, and originalEnd covers the pair', () => {
    const text = 'x𝐕y'
    const r = normalize(text)
    expect(r.text).toBe('xvy')
    expect(Array.from(r.offsets)).toEqual([0, 1, 3])
    expect(originalEnd(text, 1)).toBe(3)
    expect(originalEnd(text, 0)).toBe(1)
  })
})

describe('Normalizer (reusable buffers)', () => {
  it('returns the same view object and grows for long texts with expansions', () => {
    const n = new Normalizer(4)
    const first = n.run('加.V.信')
    expect(unitsToString(first.units, first.length)).toBe('加v信')
    const long = '⑩'.repeat(5000)
    const second = n.run(long)
    expect(second).toBe(first)
    expect(second.length).toBe(10000)
    expect(second.offsets[9999]).toBe(4999)
    expect(n.text().slice(0, 4)).toBe('1010')
    const third = n.run('ab')
    expect(n.text()).toBe('ab')
    expect(third.source).toBe('ab')
  })
})

describe('normalize: WeChat / WeCom emoji codes', () => {
  it('drops a known code whole, so it neither adds letters nor splits a word', () => {
    expect(normalize('价格[呲牙]').text).toBe('价格')
    expect(normalize('加[呲牙]微信').text).toBe('加微信')
    expect(normalize('签到 [强]').text).toBe('签到')
    expect(normalize('好的[玫瑰][Smile][OK]').text).toBe('好的')
    expect(normalize('[强][强][强]').text).toBe('')
  })

  it('compares the bracketed word in matching form: case, width, traditional characters, inner punctuation', () => {
    expect(normalize('a[smile]b[ＯＫ]c［玫瑰］d[發呆]e[Bah！L]f[TaiChi L]g').text).toBe('abcdefg')
  })

  it('keeps bracketed words that are not codes, dropping only the brackets', () => {
    expect(normalize('[公告]今晚八点').text).toBe('公告今晚八点')
    expect(normalize('[1] [图片]').text).toBe('1图片')
    expect(normalize('[[呲牙]x').text).toBe('x') // the first bracket opens nothing, the second a code
    expect(normalize('[呲牙 签到').text).toBe('呲牙签到') // never closed
  })

  it('records offsets past a dropped code', () => {
    const r = normalize('价[呲牙]格')
    expect(r.text).toBe('价格')
    expect(Array.from(r.offsets)).toEqual([0, 5])
  })

  it('knows every listed name, in brackets and through isEmojiCode, and not ordinary words', () => {
    for (const name of WECHAT_EMOJI_CODES) {
      expect([name, normalizeTerm(`[${name}]`)]).toEqual([name, ''])
      expect([name, isEmojiCode(name)]).toEqual([name, true])
    }
    for (const word of ['公告', '1', '图片', '签到', '']) expect([word, isEmojiCode(word)]).toEqual([word, false])
  })

  it('strips codes and Unicode emoji but keeps punctuation for parsers (stripEmoji)', () => {
    expect(stripEmoji('11-20[强] 👍🏻✅ [公告]')).toBe('11-20  [公告]')
    expect(stripEmoji('昨天❤️')).toBe('昨天')
  })

  it('drops Unicode emoji as noise', () => {
    expect(normalize('打卡✅').text).toBe('打卡')
    expect(normalize('签到👍🏻🎉').text).toBe('签到')
  })
})

describe('normalizeCommand: chat commands in matching form', () => {
  it('folds width, case, punctuation, spaces and @-mentions', () => {
    expect(normalizeCommand('签到！')).toBe('签到')
    expect(normalizeCommand('@群运助手\u2005签到')).toBe('签到')
    expect(normalizeCommand('ＱＤ')).toBe('qd')
    expect(normalizeCommand('签 到 ~')).toBe('签到')
    expect(normalizeCommand('＠群运助手 签到')).toBe('签到')
    expect(normalizeCommand('签\u200b到')).toBe('签到')
  })

  it('reads what members actually send: emoji codes, emoji, traditional characters', () => {
    for (const text of ['签到[呲牙]', '签到 [强]', '簽到', '签到✅', '[玫瑰]签到[玫瑰]']) expect([text, normalizeCommand(text)]).toEqual([text, '签到'])
    expect(normalizeCommand('打卡✅')).toBe('打卡')
    expect(normalizeCommand('今天也来签到一下')).toBe('今天也来签到一下')
  })

  it('removes mentions only where there are some', () => {
    expect(withoutMentions('@群运助手\u2005补签 昨天')).toBe('补签 昨天')
    expect(withoutMentions('补签 昨天')).toBe('补签 昨天')
  })

  it('gives the raw argument after the keyword however the keyword was written', () => {
    expect(commandArgument('补签 11-20', 2)).toBe(' 11-20')
    expect(commandArgument('@群运助手 補簽[呲牙]11/20', 2)).toBe('[呲牙]11/20')
    expect(commandArgument('补 签！昨天', 2)).toBe('！昨天')
    expect(commandArgument('补签', 2)).toBe('')
    expect(commandArgument('补', 2)).toBe('')
  })
})
