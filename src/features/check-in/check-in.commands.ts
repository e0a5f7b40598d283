import { addDays } from '../../kernel/time'

/**
 * Normalizes a chat command for keyword matching: Unicode NFKC (full-width → half-width, compatibility
 * forms), lower case, @-mentions removed, whitespace, punctuation and symbols dropped. So `签到`, `签到！`,
 * `@群运助手 签到`, `ＱＤ` and `qd` compare as the owner expects.
 */
export function normalizeCommand(text: string): string {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .replace(/@[^\s\u2005@]+[\s\u2005]?/g, '')
    .replace(/[\p{P}\p{S}\p{Z}\s\u200b-\u200f\u2060\ufeff]+/gu, '')
}

/** Fills `{name}` placeholders (the kernel's template helper, under the name this feature uses). */
export { renderTemplate as render } from '../../kernel/template'

/**
 * The day a make-up command names, relative to `today` (YYYY-MM-DD in the group's timezone):
 * `2026-11-20`, `11-20`, `11/20`, `11月20日`, `20日`, `昨天`, `前天`, `3天前`. Null when it names none.
 */
export function parseMakeUpDay(argument: string, today: string): string | null {
  const a = argument.normalize('NFKC').replace(/\s+/g, '').replace(/[。.!！]+$/, '')
  if (a === '昨天' || a === '昨日') return addDays(today, -1)
  if (a === '前天') return addDays(today, -2)
  if (a === '大前天') return addDays(today, -3)
  let m = /^(\d{1,2})天前$/.exec(a)
  if (m) return addDays(today, -Number(m[1]))
  const [ty, tm] = today.split('-').map(Number) as [number, number]
  m = /^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$/.exec(a)
  if (m) return valid(Number(m[1]), Number(m[2]), Number(m[3]))
  m = /^(\d{1,2})[-/.月](\d{1,2})日?$/.exec(a)
  if (m) {
    const candidate = valid(ty, Number(m[1]), Number(m[2]))
    // "12-31" said in January means last year.
    return candidate && candidate > today ? valid(ty - 1, Number(m[1]), Number(m[2])) : candidate
  }
  m = /^(\d{1,2})[日号]$/.exec(a)
  if (m) {
    const candidate = valid(ty, tm, Number(m[1]))
    if (candidate && candidate > today) return tm === 1 ? valid(ty - 1, 12, Number(m[1])) : valid(ty, tm - 1, Number(m[1]))
    return candidate
  }
  return null
}

function valid(y: number, m: number, d: number): string | null {
  const date = new Date(Date.UTC(y, m - 1, d))
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== m - 1 || date.getUTCDate() !== d) return null
  return date.toISOString().slice(0, 10)
}
