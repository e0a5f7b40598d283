import { seededRandom } from '../ports/random'
import { GROUP_THEMES, type ChatKind, advertText, chatLine, checkInText, chineseName, messageText, zipfSampler } from './chatter'

const theme = GROUP_THEMES[0]!
const ADVERT_MARKERS = ['V信', '微', '兼职', 'HTTP', 'QQ', '代理', '刷单', '免费']

/** Undo the usual spam evasions (fullwidth letters, spaces/dots between characters, lowercase). */
function normalise(text: string): string {
  return text.normalize('NFKC').replace(/[\s.·]/g, '').toUpperCase()
}

function kindCounts(hour: number | undefined, n: number, seed: number): Record<ChatKind, number> {
  const random = seededRandom(seed)
  const counts: Record<ChatKind, number> = { greeting: 0, question: 0, answer: 0, chitchat: 0, checkin: 0, thanks: 0, advert: 0, emoji: 0 }
  for (let i = 0; i < n; i++) {
    const t = GROUP_THEMES[i % GROUP_THEMES.length]!
    counts[chatLine(random, t, { hour, advertRate: 0.01 }).kind]++
  }
  return counts
}

describe('chatter', () => {
  it('has several themes with topics', () => {
    expect(GROUP_THEMES.length).toBeGreaterThanOrEqual(6)
    expect(new Set(GROUP_THEMES.map((t) => t.id)).size).toBe(GROUP_THEMES.length)
    for (const t of GROUP_THEMES) expect(t.topics.length).toBeGreaterThanOrEqual(8)
  })

  it('is deterministic for the same seed', () => {
    const run = (seed: number): string[] => {
      const random = seededRandom(seed)
      const out: string[] = []
      const zipf = zipfSampler(random, 50)
      for (let i = 0; i < 200; i++) {
        out.push(chineseName(random), chatLine(random, GROUP_THEMES[i % GROUP_THEMES.length]!, { hour: i % 24 }).text)
        out.push(messageText(random, 5, 60, theme), String(zipf()))
      }
      return out
    }
    expect(run(42)).toEqual(run(42))
    expect(run(42)).not.toEqual(run(43))
  })

  it('keeps messageText within the character bounds', () => {
    const random = seededRandom(7)
    for (const [min, max] of [[5, 60], [1, 3]] as const) {
      const seen = new Set<number>()
      let lo = Infinity
      let hi = -Infinity
      for (let i = 0; i < 10_000; i++) {
        const t = i % 2 === 0 ? GROUP_THEMES[i % GROUP_THEMES.length] : undefined
        const len = Array.from(messageText(random, min, max, t)).length
        lo = Math.min(lo, len)
        hi = Math.max(hi, len)
        seen.add(len)
      }
      expect(lo).toBe(min)
      expect(hi).toBe(max)
      expect(seen.size).toBe(max - min + 1)
    }
    expect(Array.from(messageText(random, 12, 12)).length).toBe(12)
    expect(messageText(random, 0, 0)).toBe('')
    expect(() => messageText(random, 5, 4)).toThrow(RangeError)
  })

  it('uses a realistic kind mix', () => {
    const day = kindCounts(15, 20_000, 1)
    const morning = kindCounts(8, 20_000, 2)
    for (const counts of [day, morning, kindCounts(undefined, 20_000, 3)]) {
      expect(counts.advert / 20_000).toBeGreaterThanOrEqual(0.003)
      expect(counts.advert / 20_000).toBeLessThanOrEqual(0.02)
      expect(counts.chitchat + counts.question + counts.answer).toBeGreaterThan(20_000 / 2)
      for (const n of Object.values(counts)) expect(n).toBeGreaterThan(0)
    }
    expect(morning.checkin).toBeGreaterThan(day.checkin * 1.5)
    // At night adverts keep coming at the configured rate while check-ins nearly stop.
    const night = kindCounts(3, 20_000, 4)
    expect(night.advert / 20_000).toBeGreaterThanOrEqual(0.005)
    expect(night.advert / 20_000).toBeLessThanOrEqual(0.015)
    expect(night.checkin * 5).toBeLessThan(morning.checkin)
    const none = seededRandom(5)
    for (let i = 0; i < 2_000; i++) expect(chatLine(none, theme, { advertRate: 0 }).kind).not.toBe('advert')
  })

  it('checks in mostly with the bare keyword, sometimes in chattier ways', () => {
    const random = seededRandom(21)
    const lines = Array.from({ length: 2_000 }, () => checkInText(random, theme))
    const plain = lines.filter((l) => l === '签到' || l === '打卡').length / lines.length
    expect(plain).toBeGreaterThan(0.55)
    expect(plain).toBeLessThan(0.8)
    const variants = lines.filter((l) => l !== '签到' && l !== '打卡')
    expect(new Set(variants).size).toBeGreaterThan(50)
    for (const line of variants) expect(line).toMatch(/签到|打卡/)
    for (const line of Array.from({ length: 500 }, () => advertText(random, theme))) {
      expect(ADVERT_MARKERS.some((marker) => normalise(line).includes(marker))).toBe(true)
    }
  })

  it('greets by the hour', () => {
    const random = seededRandom(9)
    const greetings = (hour: number): string => {
      let all = ''
      for (let i = 0; i < 3_000; i++) {
        const line = chatLine(random, theme, { hour })
        if (line.kind === 'greeting') all += line.text + '\n'
      }
      return all
    }
    expect(greetings(7)).toMatch(/早/)
    expect(greetings(7)).not.toMatch(/晚安/)
    expect(greetings(23)).toMatch(/晚安/)
    expect(greetings(23)).not.toMatch(/早上好/)
  })

  it('mixes theme topics into lines', () => {
    const random = seededRandom(11)
    const runTheme = GROUP_THEMES.find((t) => t.id === 'running')!
    let withTopic = 0
    for (let i = 0; i < 1_000; i++) {
      const { text } = chatLine(random, runTheme)
      expect(text).not.toMatch(/[{}]/)
      if (runTheme.topics.some((topic) => text.includes(topic))) withTopic++
    }
    expect(withTopic).toBeGreaterThan(300)
  })

  it('samples Zipf indices in range with index 0 most frequent', () => {
    const random = seededRandom(3)
    const n = 500
    const sample = zipfSampler(random, n)
    const counts = new Array<number>(n).fill(0)
    let outOfRange = 0
    for (let i = 0; i < 100_000; i++) {
      const k = sample()
      if (!Number.isInteger(k) || k < 0 || k >= n) outOfRange++
      else counts[k]!++
    }
    expect(outOfRange).toBe(0)
    const max = Math.max(...counts)
    expect(counts[0]).toBe(max)
    expect(counts[0]!).toBeGreaterThan(counts[1]! * 1.5)
    expect(counts[1]!).toBeGreaterThan(counts[10]!)
    const one = zipfSampler(random, 1)
    for (let i = 0; i < 100; i++) expect(one()).toBe(0)
    expect(() => zipfSampler(random, 0)).toThrow(RangeError)
  })

  it('generates varied Chinese names', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const random = seededRandom(seed)
      const names = Array.from({ length: 300 }, () => chineseName(random))
      const collisions = names.length - new Set(names).size
      expect(collisions / names.length).toBeLessThan(0.05)
      for (const name of names) expect(name.length).toBeGreaterThan(0)
      expect(names.filter((name) => /[\u4e00-\u9fff]/.test(name)).length).toBeGreaterThan(270)
    }
  })

  it('makes adverts that look like group spam', () => {
    const random = seededRandom(13)
    const adverts = new Set<string>()
    for (let i = 0; i < 50_000 && adverts.size < 1_000; i++) {
      const line = chatLine(random, GROUP_THEMES[i % GROUP_THEMES.length]!, { advertRate: 0.5 })
      if (line.kind !== 'advert') continue
      adverts.add(line.text)
      const normalised = normalise(line.text)
      expect(ADVERT_MARKERS.some((marker) => normalised.includes(marker))).toBe(true)
    }
    expect(adverts.size).toBe(1_000)
    const all = [...adverts].join('\n')
    for (const evasion of ['加.V.信', '加 v 信', '加Ｖ信', '兼职', '刷单', 'http', 'QQ', '代理', '免费领取']) {
      expect(all).toContain(evasion)
    }
  })
})
