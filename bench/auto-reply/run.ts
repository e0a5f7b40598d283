/**
 * Auto-reply matching cost: 1,000 keyword rules and 50 regex rules in one group vs no rules, over the
 * same 100,000 generated Chinese messages, in one process. Reports the time added per message (the
 * issue's budget: a few microseconds). Ends with one `BENCH {json}` line.
 *
 *   npx ts-node --transpile-only bench/auto-reply/run.ts [--messages N]
 */
import { RuleIndex, type LiveRule, type MatchInput } from '../../src/features/auto-reply/auto-reply.engine'
import { AutoReplyRuleSchema } from '../../src/features/auto-reply/auto-reply.rules'
import { messageText, chineseName, GROUP_THEMES } from '../../src/simulation/chatter'
import { seededRandom } from '../../src/ports/random'

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(name)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}
const MESSAGES = arg('--messages', 100_000)
const random = seededRandom(20261122)
const PRODUCTS = ['课程', '会员', '套餐', '训练营', '读书卡', '团购', '活动', '讲座', '礼包', '优惠券']
const QUESTIONS = ['价格', '怎么买', '多少钱', '时间', '地址', '退款', '开课', '报名']

/** 1,000 keyword rules (two keywords each, mixed match types) and 50 regex rules, all serving the group. */
function rules(): LiveRule[] {
  const out: LiveRule[] = []
  const types = ['contains', 'exact', 'startsWith', 'any'] as const
  for (let i = 0; i < 1000; i++) {
    const type = types[i % types.length] as (typeof types)[number]
    // FAQ-style keywords (a product or topic and a question word), as owners write them.
    const keywords = [`${PRODUCTS[i % PRODUCTS.length]}${Math.floor(i / PRODUCTS.length)}号${QUESTIONS[i % QUESTIONS.length]}`, `第${i}期${QUESTIONS[(i + 3) % QUESTIONS.length]}`]
    const rule = AutoReplyRuleSchema.parse({ name: `k${i}`, trigger: { type, keywords: type === 'exact' || type === 'startsWith' || type === 'contains' ? keywords : keywords }, answer: { variants: [{ text: '答' }] } })
    out.push({ ...rule, id: i + 1, ownerTokenId: null, position: i })
  }
  for (let i = 0; i < 50; i++) {
    const rule = AutoReplyRuleSchema.parse({ name: `r${i}`, trigger: { type: 'regex', pattern: `(课程|报名|活动)${i}.{0,6}(费用|价格|时间)` }, answer: { variants: [{ text: '答' }] } })
    out.push({ ...rule, id: 1001 + i, ownerTokenId: null, position: 1000 + i })
  }
  return out
}

function run(index: RuleIndex, inputs: MatchInput[]): { ns: number; hits: number } {
  let hits = 0
  const start = process.hrtime.bigint()
  for (const input of inputs) hits += index.candidates(input, new Map()).candidates.length
  return { ns: Number(process.hrtime.bigint() - start), hits }
}

function main(): void {
  const theme = GROUP_THEMES[0] as (typeof GROUP_THEMES)[number]
  // 2% of messages ask one of the FAQ questions; the rest is ordinary chat.
  const inputs: MatchInput[] = Array.from({ length: MESSAGES }, (_, i) => ({
    text: i % 50 === 0 ? `请问${PRODUCTS[i % PRODUCTS.length]}${i % 100}号${QUESTIONS[i % QUESTIONS.length]}呀` : messageText(random, 5, 60, theme), groupId: 'g@chatroom', groupLabels: [], timezone: 'Asia/Shanghai',
    at: Date.parse('2026-11-23T10:00:00+08:00'), mentionsBot: false, memberJoinedAt: null,
  }))
  void chineseName
  const buildStart = process.hrtime.bigint()
  const full = new RuleIndex(rules())
  const buildMs = Number(process.hrtime.bigint() - buildStart) / 1e6
  const empty = new RuleIndex([])
  // Warm up both (JIT), then alternate rounds and keep the best of three.
  run(full, inputs.slice(0, 5000)); run(empty, inputs.slice(0, 5000))
  const rounds = { full: [] as number[], empty: [] as number[] }
  let hits = 0
  for (let r = 0; r < 3; r++) {
    const e = run(empty, inputs)
    const f = run(full, inputs)
    rounds.empty.push(e.ns / MESSAGES / 1000)
    rounds.full.push(f.ns / MESSAGES / 1000)
    hits = f.hits
  }
  const emptyUs = Math.min(...rounds.empty)
  const fullUs = Math.min(...rounds.full)
  const addedUs = fullUs - emptyUs
  console.log(`messages: ${MESSAGES}; rules: 1000 keyword + 50 regex; compile: ${buildMs.toFixed(1)} ms; matching rules found: ${hits}`)
  console.log('                     µs/message (best of 3)')
  console.log(`no rules (baseline)  ${emptyUs.toFixed(3)}   (normalization only)`)
  console.log(`1,050 rules          ${fullUs.toFixed(3)}`)
  console.log(`added by the rules   ${addedUs.toFixed(3)}`)
  console.log(`BENCH ${JSON.stringify({ bench: 'auto-reply-matching', messages: MESSAGES, rules: { keyword: 1000, regex: 50 }, compileMs: Number(buildMs.toFixed(1)), usPerMessage: { noRules: Number(emptyUs.toFixed(3)), withRules: Number(fullUs.toFixed(3)), added: Number(addedUs.toFixed(3)) }, goal: 'a few µs added per message' })}`)
}

main()
