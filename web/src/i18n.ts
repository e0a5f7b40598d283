import { signal } from './state'

/** Dashboard languages: Chinese first, English as a switch. */
export type Lang = 'zh-CN' | 'en'

/**
 * Every message once, with its Chinese and English text side by side (zh-CN first): a key cannot miss a
 * translation, and the two languages never drift apart in two tables of the same shape.
 */
const MESSAGES = {
  appName: ['群运控制台', 'qunyun console'],
  signIn: ['登录', 'Sign in'],
  signOut: ['退出', 'Sign out'],
  token: ['API 令牌', 'API token'],
  tokenHelp: ['令牌只保存在本标签页（sessionStorage），关闭标签页即清除。', 'The token stays in this tab only (sessionStorage) and is gone when the tab closes.'],
  tokenCreate: ['创建令牌：', 'Create a token:'],
  signingIn: ['正在登录…', 'Signing in…'],
  badToken: ['令牌无效、已过期或已吊销。', 'The token is invalid, expired or revoked.'],
  language: ['English', '中文'],
  groups: ['群', 'Groups'],
  group: ['群详情', 'Group'],
  rules: ['规则', 'Rules'],
  apiDocs: ['API 文档', 'API docs'],
  loading: ['加载中…', 'Loading…'],
  retry: ['重试', 'Retry'],
  empty: ['暂无数据', 'Nothing yet'],
  noGroups: ['你的令牌没有可见的群。', 'Your token sees no groups.'],
  noMessages: ['此时间范围内还没有消息。', 'No messages yet in this range.'],
  errServer: ['服务器无法访问，请稍后重试。', 'The server cannot be reached; try again shortly.'],
  errForbidden: ['你的角色无权执行此操作（403）。', 'Your role may not do this (403).'],
  errExpired: ['登录已失效，请重新登录。', 'Your session expired; sign in again.'],
  errNotFound: ['找不到（或不在你的权限范围内）。', 'Not found (or outside your scope).'],
  errGeneric: ['出错了', 'Something went wrong'],
  requestId: ['请求编号', 'Request id'],
  name: ['名称', 'Name'],
  members: ['成员', 'Members'],
  memberCount: ['成员数', 'Members'],
  timezone: ['时区', 'Timezone'],
  labels: ['标签', 'Labels'],
  status: ['状态', 'Status'],
  active: ['在群', 'In group'],
  inactive: ['已退出', 'Left'],
  joinedAt: ['加入时间', 'Joined'],
  role: ['角色', 'Role'],
  memberId: ['成员 ID', 'Member id'],
  search: ['搜索名称或 ID', 'Search name or id'],
  sortBy: ['排序', 'Sort'],
  page: ['第 {n} / {m} 页', 'Page {n} of {m}'],
  prev: ['上一页', 'Previous'],
  next: ['下一页', 'Next'],
  total: ['共 {n} 条', '{n} in total'],
  exportCsv: ['导出 CSV', 'Export CSV'],
  messages: ['消息数', 'Messages'],
  activeMembers: ['活跃成员', 'Active members'],
  day: ['日期', 'Day'],
  chars: ['字数', 'Characters'],
  msgs7: ['近 7 天消息', 'Messages, last 7 days'],
  active7: ['近 7 天日均活跃', 'Avg. daily active, 7 days'],
  checkIns7: ['近 7 天签到', 'Check-ins, last 7 days'],
  modHits7: ['近 7 天违规', 'Violations, last 7 days'],
  autoReply7: ['近 7 天自动回复', 'Auto-replies, last 7 days'],
  vsPrev: ['较前 7 天', 'vs previous 7 days'],
  activityChart: ['每日消息与活跃成员（近 30 天）', 'Messages and active members per day (last 30 days)'],
  showTable: ['以表格查看', 'Show as table'],
  hideTable: ['隐藏表格', 'Hide table'],
  topMembers: ['发言最多的成员（近 30 天）', 'Most active members (30 days)'],
  leaderboard: ['签到排行（连续天数）', 'Check-in leaderboard (streak)'],
  streak: ['连续天数', 'Streak'],
  points: ['积分', 'Points'],
  rank: ['名次', 'Rank'],
  moderation: ['内容审核', 'Moderation'],
  autoReply: ['自动回复', 'Auto-reply'],
  checkIn: ['签到', 'Check-in'],
  activity: ['活跃度', 'Activity'],
  editRules: ['编辑规则', 'Edit rules'],
  version: ['版本', 'Version'],
  save: ['保存（新版本）', 'Save (new version)'],
  saving: ['保存中…', 'Saving…'],
  saved: ['已保存为版本 {n}', 'Saved as version {n}'],
  note: ['备注（可选）', 'Note (optional)'],
  invalid: ['表单有 {n} 处错误', '{n} problem(s) in the form'],
  dryRun: ['试运行', 'Dry run'],
  dryRunHelp: ['粘贴一条消息，看看规则会怎么处理（不会发送或记录）。', 'Paste a message and see what the rules would do (nothing is sent or recorded).'],
  dryRunText: ['消息内容', 'Message'],
  run: ['试运行', 'Run'],
  result: ['结果', 'Result'],
  versions: ['版本历史', 'Version history'],
  author: ['作者', 'Author'],
  at: ['时间', 'Time'],
  diff: ['差异', 'Diff'],
  rollback: ['回滚到此版本', 'Roll back to this version'],
  rolledBack: ['已回滚，新版本 {n}', 'Rolled back; new version {n}'],
  confirmRollback: ['确定把规则回滚到版本 {n} 吗？', 'Roll the rules back to version {n}?'],
  noVersions: ['还没有修改过：使用的是规则包默认值。', 'Never changed: the rule pack defaults apply.'],
  before: ['之前', 'Before'],
  after: ['之后', 'After'],
  path: ['路径', 'Path'],
  compareWith: ['与当前版本比较', 'Compare with current'],
  field: ['字段', 'Field'],
  jsonField: ['JSON', 'JSON'],
  reset: ['撤销修改', 'Discard changes'],
  defaults: ['默认', 'Default'],
  yes: ['是', 'Yes'],
  no: ['否', 'No'],
  cannotEdit: ['你的角色只能查看规则。', 'Your role can only view rules.'],
  owner: ['群主', 'Owner'],
  admin: ['管理员', 'Admin'],
  member: ['成员', 'Member'],
  operator: ['运营', 'Operator'],
  allGroups: ['全部群', 'All groups'],
  signedInAs: ['{name}（{role}）', '{name} ({role})'],
  comingSoon: ['将在对应接口上线后出现', 'Appears once its API lands'],
  chartData: ['图表数据', 'Chart data'],
  perDay: ['每日', 'Per day'],
  tokens: ['令牌', 'Tokens'],
  audit: ['操作日志', 'Audit log'],
  loadMore: ['加载更多', 'Load more'],
  hint: ['尾号', 'Ends with'],
  createdAt: ['创建时间', 'Created'],
  lastUsedAt: ['最近使用', 'Last used'],
  revokedAt: ['吊销时间', 'Revoked'],
  scope: ['范围', 'Scope'],
  method: ['方法', 'Method'],
  route: ['接口', 'Route'],
  target: ['对象', 'Target'],
  detector: ['规则', 'Rule'],
  live: ['生效', 'Live'],
  shadow: ['影子', 'Shadow'],
  removals: ['移出', 'Removals'],
  ruleId: ['规则 ID', 'Rule id'],
  answered: ['已回复', 'Answered'],
  suppressed: ['冷却抑制', 'Suppressed (cooldown)'],
  modByDay: ['内容审核命中（近 14 天）', 'Moderation hits (14 days)'],
  autoByDay: ['自动回复命中（近 14 天）', 'Auto-reply hits (14 days)'],
  value: ['数值', 'Value'],
} satisfies Record<string, readonly [zh: string, en: string]>

export type MessageKey = keyof typeof MESSAGES

const KEY = 'qunyun.lang'

function initial(): Lang {
  const stored = localStorage.getItem(KEY)
  return stored === 'en' || stored === 'zh-CN' ? stored : 'zh-CN'
}

/** The current language (re-renders subscribers when switched). */
export const lang = signal<Lang>(initial())

/** Switches the language and remembers the choice (a preference, not a secret: localStorage). */
export function setLang(next: Lang): void {
  localStorage.setItem(KEY, next)
  document.documentElement.lang = next
  lang.set(next)
}

/** A message in the current language, with {placeholders} filled. */
export function t(key: MessageKey, vars: Record<string, string | number> = {}): string {
  const text = MESSAGES[key][lang.get() === 'en' ? 1 : 0]
  return text.replace(/\{(\w+)\}/g, (m, name: string) => (name in vars ? String(vars[name]) : m))
}

/** Numbers and dates in the current language. */
export const fmt = {
  n: (value: number): string => new Intl.NumberFormat(lang.get()).format(value),
  pct: (value: number): string => new Intl.NumberFormat(lang.get(), { style: 'percent', maximumFractionDigits: 1 }).format(value),
  time: (iso: string | null): string => (iso ? new Date(iso).toLocaleString(lang.get(), { hour12: false }) : '—'),
}
