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

/** Calls an admin route's handler as the simulation (validation included); null when the route is not registered. */
export type RouteCall = (method: string, path: string, input?: { params?: unknown; query?: unknown; body?: unknown }) => Promise<unknown>

/** A caller of the registered routes as the simulation admin: the same handlers and schemas the API uses. */
export function routeCaller(routes: readonly RouteDefinition[], log: Logger): RouteCall {
  return async (method, path, input = {}) => {
    const route = routes.find((r) => r.method === method && r.path === path)
    if (!route) return null // the feature is not in the registry
    return route.handler({
      params: route.params ? route.params.parse(input.params ?? {}) : {}, query: route.query ? route.query.parse(input.query ?? {}) : {},
      body: route.body ? route.body.parse(input.body) : undefined, requestId: 'simulation-seed', log, auth: SIMULATION, audit: () => undefined,
    })
  }
}

/**
 * Creates the example auto-replies the simulated groups answer with, through the auto-reply feature's own
 * create route (validation, storage, cache invalidation on every replica) — once: rules that already
 * exist by name are left as they are, so a restart does not duplicate them. Returns how many it created.
 */
export async function seedExampleAutoReplies(routes: readonly RouteDefinition[], log: Logger): Promise<number> {
  const call = routeCaller(routes, log)
  const existing = await call('GET', '/api/v1/auto-replies') as { items: Array<{ name: string }> } | null
  if (!existing) return 0 // auto-reply is not in the registry
  const names = new Set(existing.items.map((r) => r.name))
  let created = 0
  for (const { rule } of EXAMPLE_AUTO_REPLIES) {
    if (names.has(rule.name)) continue
    await call('POST', '/api/v1/auto-replies', { body: rule })
    created++
  }
  if (created > 0) log.info('example auto-replies created for the simulated groups', { rules: EXAMPLE_AUTO_REPLIES.map((e) => e.rule.name) })
  return created
}

/** Title of the simulated community's lottery. */
export const EXAMPLE_LOTTERY_TITLE = '模拟社群：新人福利抽奖'
/** Entrants at which the example lottery closes and is drawn (at the lottery job's next minute). */
export const EXAMPLE_LOTTERY_ENTRIES = 6

/**
 * Opens the example lottery in one simulated group through the lottery routes (create, open): drawn by the
 * lottery job once {@link EXAMPLE_LOTTERY_ENTRIES} members entered. An open one from an earlier start is
 * reused. Returns its entry keyword, or null when the lottery feature is not registered.
 */
export async function seedExampleLottery(call: RouteCall, log: Logger, groupId: string): Promise<string | null> {
  const open = await call('GET', '/api/v1/lotteries', { query: { status: 'open' } }) as { items: Array<{ id: string | number; title: string; entry?: { keyword?: string } }> } | null
  if (!open) return null
  const existing = open.items.find((l) => l.title === EXAMPLE_LOTTERY_TITLE)
  if (existing) return existing.entry?.keyword ?? '参与抽奖'
  const created = await call('POST', '/api/v1/lotteries', {
    body: {
      title: EXAMPLE_LOTTERY_TITLE, description: '在群里说「参与抽奖」即可参加，满 6 人自动开奖', groupIds: [groupId],
      prizes: [{ name: '读书会月卡', quantity: 1, claimInstructions: '私聊群主领取' }],
      entry: { keyword: '参与抽奖' }, times: { drawWhenEntries: EXAMPLE_LOTTERY_ENTRIES }, claimWindowHours: 72,
    },
  }) as { id: string | number; entry: { keyword: string } }
  await call('POST', '/api/v1/lotteries/:lotteryId/open', { params: { lotteryId: String(created.id) } })
  log.info('example lottery opened in a simulated group', { group: groupId, lottery: String(created.id), drawWhenEntries: EXAMPLE_LOTTERY_ENTRIES })
  return created.entry.keyword
}

/** Name of the simulated community's topic share schedule. */
export const EXAMPLE_SHARE_NAME = '模拟社群：开场话题'

/**
 * Schedules the example topic share through the scheduled-share routes: one post, sent once to the given
 * groups at `localMinute` (`YYYY-MM-DDTHH:mm` in the groups' timezone). The post and schedule of an
 * earlier start are reused (the schedule moved to the new time through its edit route). Returns whether
 * it was scheduled.
 */
export async function seedExampleShare(call: RouteCall, log: Logger, groupIds: readonly string[], localMinute: string): Promise<boolean> {
  const posts = await call('GET', '/api/v1/share-posts') as { items: Array<{ id: string | number; title: string }> } | null
  if (!posts) return false
  let post = posts.items.find((p) => p.title === EXAMPLE_SHARE_NAME)
  post ??= await call('POST', '/api/v1/share-posts', {
    body: { title: EXAMPLE_SHARE_NAME, text: '☀️ {weekday}话题：最近大家在读/在做什么？欢迎在群里分享～（{group}，{members} 位成员）' },
  }) as { id: string | number; title: string }
  const body = {
    name: EXAMPLE_SHARE_NAME, trigger: { type: 'once', at: localMinute }, target: { type: 'groups', groupIds: [...groupIds] },
    content: { type: 'post', postId: post.id }, staggerSeconds: 0,
  }
  const schedules = await call('GET', '/api/v1/share-schedules') as { items: Array<{ id: string | number; name: string }> }
  const existing = schedules.items.find((s) => s.name === EXAMPLE_SHARE_NAME)
  if (existing) await call('PUT', '/api/v1/share-schedules/:scheduleId', { params: { scheduleId: String(existing.id) }, body })
  else await call('POST', '/api/v1/share-schedules', { body })
  log.info('example topic share scheduled for the simulated groups', { at: localMinute, groups: groupIds.length })
  return true
}

/** Logs the figures of the simulated groups on `day` (YYYY-MM-DD) from the stats feature's own overview report. */
export async function logStatsFigures(call: RouteCall, log: Logger, day: string): Promise<void> {
  const report = await call('GET', '/api/v1/stats/overview', { query: { from: day, to: day } }) as { current?: Record<string, unknown> } | null
  const c = report?.current
  if (!c) return
  log.info('stats today (GET /api/v1/stats/overview)', {
    day,
    messages: c.messages, activeMembers: c.activeMembers, joins: c.joins, leaves: c.leaves, checkInRate: c.checkInRate,
    autoReplyHits: c.autoReplyHits, moderationActions: c.moderationActions, lotteryEntries: c.lotteryEntries,
  })
}
