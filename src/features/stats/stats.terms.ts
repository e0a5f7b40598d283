import { Jieba } from '@node-rs/jieba'
import { dict } from '@node-rs/jieba/dict'
import { Normalizer, originalEnd, withoutMentions } from '../../text/normalize'

/**
 * Hot-topic terms of a chat message. The method (also in the README):
 *  1. URLs and @-mentions are removed (a mention is a member's display name, not a topic);
 *  2. the text is read through the house normalizer (full-width → ASCII, traditional → simplified,
 *     lower case, WeChat emoji codes such as `[呲牙]` and Unicode emoji dropped), except that whatever the
 *     normalizer drops between two kept characters (spaces, punctuation, emoji) becomes a space, so words
 *     and sentences stay apart;
 *  3. the result is segmented by jieba (`@node-rs/jieba`, its bundled dictionary, no HMM);
 *  4. a token is a term when it has at least two characters (one CJK ideograph alone is nearly always a
 *     particle), is not only digits, is at most 24 characters, and is not a stop word (STOP_WORDS: Chinese
 *     function words and chat fillers, English stop words, and the product's own commands such as 签到);
 *  5. a message contributes each term once (repeating a word in one message does not make it hotter),
 *     at most MAX_TERMS_PER_MESSAGE of them, from its first MAX_TEXT_UNITS code units.
 * Messages another feature consumed (a check-in, a lottery entry, a message moderation acted on) are not
 * given to this function at all (see the stats middleware).
 */

/** Longest prefix of a message read for terms (code units). */
export const MAX_TEXT_UNITS = 500
/** Most terms one message contributes. */
export const MAX_TERMS_PER_MESSAGE = 32
/** Longest term kept (characters). */
const MAX_TERM_LENGTH = 24

/** URLs (with or without a scheme) and e-mail-like tokens. */
const URL = /\b(?:https?:\/\/|www\.)[^\s\u3000]+|[\w.+-]+@[\w-]+\.[\w.]+/giu

// Chinese function words, pronouns, chat fillers and question words; English stop words; the product's commands.
const STOP_WORDS = new Set(`
的 了 是 在 我 你 他 她 它 们 这 那 就 也 都 和 与 及 或 而 但 又 很 太 还 吧 吗 呢 啊 呀 哦 噢 嗯 哈 嘿 哎 唉 么 啦 喔 哇
我们 你们 他们 她们 它们 大家 自己 咱们 人家 别人 这个 那个 这些 那些 这样 那样 这里 那里 这儿 那儿 这么 那么
什么 怎么 怎么样 怎样 为什么 为啥 如何 哪里 哪儿 哪个 哪些 多少 几个 谁 是不是 有没有 能不能 可不可以 要不要
一个 一些 一下 一点 一样 一起 一直 有点 有些 没有 不是 就是 还是 只是 但是 可是 因为 所以 如果 虽然 然后 而且 或者
可以 可能 应该 需要 知道 觉得 感觉 认为 现在 今天 明天 昨天 刚才 已经 马上 时候 之前 之后 以后 以前 的话 一般
真的 其实 确实 当然 好像 比较 非常 特别 真是 还有 以及 而已 罢了 起来 出来 过来 上来 下来 一下子 不要 不会 不能
哈哈 哈哈哈 哈哈哈哈 呵呵 嘻嘻 嘿嘿 好的 好吧 嗯嗯 谢谢 谢谢你 多谢 感谢 收到 好滴 ok okay 可以的 没事 没关系 对的 是的
请问 大佬 各位 朋友 亲们 早上好 晚上好 下午好 中午好 早安 晚安 你好 您好 大家好
签到 打卡 补签 抽奖 参与抽奖 我要奖品 qd
a an the and or but if then else of to in on at by for with from as is are was were be been being am
it its this that these those i me my we our you your he him his she her they them their what which who whom
how why when where do does did doing have has had having not no yes so too very can could will would shall
should may might must just also only than there here about into over after before up down out off again
any all some more most other such own same both each few nor lol haha hi hello hey thanks thank please pls
`.split(/\s+/).filter(Boolean))

let segmenter: Jieba | undefined
/** The process-wide segmenter (its dictionary takes about half a second to load, once, on first use). */
function jieba(): Jieba {
  segmenter ??= Jieba.withDict(dict)
  return segmenter
}

/** Loads the segmenter now (at start-up rather than on the first flush with text). */
export function warmUpTerms(): void {
  jieba()
}

const normalizer = new Normalizer(MAX_TEXT_UNITS + 16)
const DIGITS = /^\d+$/
const IDEOGRAPH = /^\p{Script=Han}$/u

/**
 * The normalized text with a space wherever the normalizer dropped something between two kept characters
 * (so `你好，世界` reads `你好 世界` and `hello world` keeps its space). Exported for tests.
 */
export function spacedForm(text: string): string {
  const view = normalizer.run(text)
  let out = ''
  for (let k = 0; k < view.length; k++) {
    const at = view.offsets[k] as number
    if (k > 0) {
      const before = view.offsets[k - 1] as number
      // Units of one source character (an expansion) share an offset; a jump past the previous character is a gap.
      if (at !== before && at > originalEnd(view.source, before)) out += ' '
    }
    out += String.fromCharCode(view.units[k] as number)
  }
  return out
}

/** The distinct hot-topic terms of a message text (see the method above); [] for text without any. */
export function extractTerms(text: string): string[] {
  if (text.length === 0) return []
  const clipped = withoutMentions(text.length > MAX_TEXT_UNITS ? text.slice(0, MAX_TEXT_UNITS) : text).replace(URL, ' ')
  const form = spacedForm(clipped)
  if (form.length < 2) return []
  const out: string[] = []
  const seen = new Set<string>()
  for (const raw of jieba().cut(form, false)) {
    const token = raw.trim()
    if (token.length < 2 || token.length > MAX_TERM_LENGTH) continue
    if (DIGITS.test(token) || STOP_WORDS.has(token) || seen.has(token)) continue
    // Two-unit tokens that are one character (a supplementary ideograph) are single characters too.
    if ([...token].length < 2 || IDEOGRAPH.test(token)) continue
    seen.add(token)
    out.push(token)
    if (out.length >= MAX_TERMS_PER_MESSAGE) break
  }
  return out
}
