import { groupScope, type Principal } from '../kernel/auth'
import type { Logger } from '../kernel/logger'
import type { RouteDefinition } from '../kernel/routes'

/** An example FAQ answer of the simulated groups, with questions members ask that trigger it. */
export interface ExampleAutoReply {
  /** The rule as an owner would POST it to /api/v1/auto-replies. */
  rule: { name: string; trigger: { type: 'any' | 'contains'; keywords: string[] }; cooldown: { groupSeconds: number; memberSeconds: number }; answer: { variants: Array<{ text: string; mention?: boolean }> } }
  /** Questions that ask for it. */
  asks: string[]
}

/**
 * The FAQ of the simulated community: a few keyword answers every simulated group gets, so a first run
 * shows auto-replies.
 */
export const EXAMPLE_AUTO_REPLIES: readonly ExampleAutoReply[] = [
  {
    rule: {
      name: '价格', trigger: { type: 'any', keywords: ['价格', '多少钱'] }, cooldown: { groupSeconds: 60, memberSeconds: 0 },
      answer: { variants: [{ text: '价格以群公告为准，有疑问可以私聊群主～', mention: true }] },
    },
    asks: ['请问课程多少钱？', '新人想问下价格是多少呀', '这个怎么收费，多少钱一个月？'],
  },
  {
    rule: {
      name: '报名', trigger: { type: 'any', keywords: ['报名', '名额'] }, cooldown: { groupSeconds: 60, memberSeconds: 0 },
      answer: { variants: [{ text: '报名请看群公告里的链接，名额有限，先到先得🙏' }] },
    },
    asks: ['请问在哪里报名？', '下期活动还有名额吗'],
  },
  {
    rule: {
      name: '资料', trigger: { type: 'contains', keywords: ['资料'] }, cooldown: { groupSeconds: 60, memberSeconds: 0 },
      answer: { variants: [{ text: '资料都在群文件里，按主题分好了文件夹📁' }] },
    },
    asks: ['群里的资料在哪里下载？', '新人求资料，谢谢大家'],
  },
]

/** The simulation acting as an admin when it seeds its examples (rules without an owner serve every group). */
const SIMULATION: Principal = { tokenId: 0, name: 'simulation', role: 'admin', scope: groupScope(true, []) }

/**
 * Creates the example auto-replies the simulated groups answer with, through the auto-reply feature's own
 * create route (validation, storage, cache invalidation on every replica) — once: rules that already
 * exist by name are left as they are, so a restart does not duplicate them. Returns how many it created.
 */
export async function seedExampleAutoReplies(routes: readonly RouteDefinition[], log: Logger): Promise<number> {
  const list = routes.find((r) => r.method === 'GET' && r.path === '/api/v1/auto-replies')
  const create = routes.find((r) => r.method === 'POST' && r.path === '/api/v1/auto-replies')
  if (!list || !create) return 0 // auto-reply is not in the registry
  const call = (route: RouteDefinition, input: { query?: unknown; body?: unknown }): Promise<unknown> => route.handler({
    params: {}, query: route.query ? route.query.parse(input.query ?? {}) : {}, body: route.body ? route.body.parse(input.body) : undefined,
    requestId: 'simulation-seed', log, auth: SIMULATION, audit: () => undefined,
  })
  const existing = await call(list, {}) as { items: Array<{ name: string }> }
  const names = new Set(existing.items.map((r) => r.name))
  let created = 0
  for (const { rule } of EXAMPLE_AUTO_REPLIES) {
    if (names.has(rule.name)) continue
    await call(create, { body: rule })
    created++
  }
  if (created > 0) log.info('example auto-replies created for the simulated groups', { rules: EXAMPLE_AUTO_REPLIES.map((e) => e.rule.name) })
  return created
}
