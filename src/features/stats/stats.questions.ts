import { stripEmoji } from '../../text/normalize'
import { spacedForm } from './stats.terms'

/**
 * Question resolution. The heuristic (also in the README):
 *  - a text message is a QUESTION when, after the same normalization as hot topics (traditional →
 *    simplified, full-width → ASCII, emoji codes dropped; `嗎` reads `吗`), it
 *    · ends with a question mark (`?` or `？`, checked on the raw text, emoji and spaces after it ignored), or
 *    · ends with the particle 吗 / 呢 / 么 (`有人去吗`), or
 *    · contains a Chinese question word (请问 怎么 如何 为什么 为啥 什么 哪里 哪儿 哪个 多少 几点 几号 能不能
 *      可不可以 有没有 是不是 会不会 要不要 啥时候), or
 *    · starts with an English question word (how what why when where who which can could does do is are
 *      anyone any should would will).
 *  - it is RESOLVED when, within N minutes (`stats.questions.answerWithinMinutes`, default 30), either an
 *    auto-reply rule answered it (not merely matched under a cooldown), or another member sent a message that
 *    is not itself a question — the first such message answers the group's oldest open question from
 *    someone else (one answer resolves one question). Time to answer is measured to that message (or to the
 *    question itself for an auto-reply, which answers at once) and kept in whole-minute buckets, so the
 *    median is reported to the minute.
 * Open questions live in memory on the process that saw them (at most MAX_OPEN per group); a restart forgets
 * the open ones (they then count as asked, not resolved).
 */

/** Most open questions remembered per group (older ones drop out unanswered). */
export const MAX_OPEN = 50

const CHINESE_QUESTION_WORDS = ['请问', '怎么', '如何', '为什么', '为啥', '什么', '哪里', '哪儿', '哪个', '多少', '几点', '几号', '能不能', '可不可以', '有没有', '是不是', '会不会', '要不要', '啥时候']
const ENGLISH_START = /^(how|what|why|when|where|who|which|can|could|does|do|is|are|anyone|any|should|would|will)\b/
const PARTICLE_AT_END = /[吗呢么]$/

/** Whether a text message looks like a question (see the heuristic above). */
export function isQuestion(text: string): boolean {
  if (text.length === 0) return false
  const clipped = text.length > 200 ? text.slice(0, 200) : text
  const last = stripEmoji(clipped).trimEnd().slice(-1)
  if (last === '?' || last === '？') return true
  const form = spacedForm(clipped).trim()
  if (form.length === 0) return false
  if (PARTICLE_AT_END.test(form)) return true
  if (ENGLISH_START.test(form)) return true
  for (const w of CHINESE_QUESTION_WORDS) if (form.includes(w)) return true
  return false
}
