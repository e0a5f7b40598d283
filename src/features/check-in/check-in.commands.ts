import { addDays } from '../../kernel/time'
import { stripEmoji } from '../../text/normalize'

/** Fills `{name}` placeholders (the kernel's template helper, under the name this feature uses). */
export { renderTemplate as render } from '../../kernel/template'

/**
 * The day a make-up command names, relative to `today` (YYYY-MM-DD in the group's timezone):
 * `2026-11-20`, `11-20`, `11/20`, `11月20日`, `20日` / `20号` / `20號`, `昨天`, `前天`, `3天前` — with
 * full-width digits, spaces, surrounding punctuation, emoji and WeChat emoji codes (`昨天[强]`) ignored.
 * Null when it names none.
 */
export function parseMakeUpDay(argument: string, today: string): string | null {
  // Punctuation around the day (`补签：昨天`, `补签！11月20日。`) is not part of it.
  const a = stripEmoji(argument).normalize('NFKC').replace(/\s+/g, '').replace(/^[\p{P}\p{S}]+|[\p{P}\p{S}]+$/gu, '')
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
  m = /^(\d{1,2})[日号號]$/.exec(a)
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
