import { signal } from './state'

/** Dashboard languages: Chinese first, English as a switch. */
export type Lang = 'zh-CN' | 'en'

const zh = {
  appName: '群运控制台', signIn: '登录', signOut: '退出', token: 'API 令牌', tokenHelp: '令牌只保存在本标签页（sessionStorage），关闭标签页即清除。',
  tokenCreate: '创建令牌：', signingIn: '正在登录…', badToken: '令牌无效、已过期或已吊销。', language: 'English',
  groups: '群', group: '群详情', rules: '规则', apiDocs: 'API 文档', loading: '加载中…', retry: '重试',
  empty: '暂无数据', noGroups: '你的令牌没有可见的群。', noMessages: '此时间范围内还没有消息。',
  errServer: '服务器无法访问，请稍后重试。', errForbidden: '你的角色无权执行此操作（403）。', errExpired: '登录已失效，请重新登录。',
  errNotFound: '找不到（或不在你的权限范围内）。', errGeneric: '出错了', requestId: '请求编号',
  name: '名称', members: '成员', memberCount: '成员数', timezone: '时区', labels: '标签', status: '状态', active: '在群', inactive: '已退出',
  joinedAt: '加入时间', role: '角色', memberId: '成员 ID', search: '搜索名称或 ID', sortBy: '排序', page: '第 {n} / {m} 页', prev: '上一页', next: '下一页',
  total: '共 {n} 条', exportCsv: '导出 CSV', messages: '消息数', activeMembers: '活跃成员', day: '日期', chars: '字数',
  msgs7: '近 7 天消息', active7: '近 7 天日均活跃', checkIns7: '近 7 天签到', modHits7: '近 7 天违规', autoReply7: '近 7 天自动回复',
  vsPrev: '较前 7 天', activityChart: '每日消息与活跃成员（近 30 天）', showTable: '以表格查看', hideTable: '隐藏表格', topMembers: '发言最多的成员（近 30 天）',
  leaderboard: '签到排行（连续天数）', streak: '连续天数', points: '积分', rank: '名次', moderation: '内容审核', autoReply: '自动回复', checkIn: '签到', activity: '活跃度',
  editRules: '编辑规则', version: '版本', save: '保存（新版本）', saving: '保存中…', saved: '已保存为版本 {n}', note: '备注（可选）', invalid: '表单有 {n} 处错误',
  dryRun: '试运行', dryRunHelp: '粘贴一条消息，看看规则会怎么处理（不会发送或记录）。', dryRunText: '消息内容', run: '试运行', result: '结果',
  versions: '版本历史', author: '作者', at: '时间', diff: '差异', rollback: '回滚到此版本', rolledBack: '已回滚，新版本 {n}', confirmRollback: '确定把规则回滚到版本 {n} 吗？',
  noVersions: '还没有修改过：使用的是规则包默认值。', before: '之前', after: '之后', path: '路径', compareWith: '与当前版本比较',
  field: '字段', jsonField: 'JSON', reset: '撤销修改', defaults: '默认', yes: '是', no: '否', cannotEdit: '你的角色只能查看规则。',
  owner: '群主', admin: '管理员', member: '成员', operator: '运营', allGroups: '全部群', signedInAs: '{name}（{role}）',
  comingSoon: '将在对应接口上线后出现', chartData: '图表数据', perDay: '每日',
  tokens: '令牌', audit: '操作日志', loadMore: '加载更多', hint: '尾号', createdAt: '创建时间', lastUsedAt: '最近使用', revokedAt: '吊销时间',
  scope: '范围', method: '方法', route: '接口', target: '对象', detector: '规则', live: '生效', shadow: '影子', removals: '移出',
  ruleId: '规则 ID', answered: '已回复', suppressed: '冷却抑制', modByDay: '内容审核命中（近 14 天）', autoByDay: '自动回复命中（近 14 天）', value: '数值',
}

export type MessageKey = keyof typeof zh

const en: Record<MessageKey, string> = {
  appName: 'qunyun console', signIn: 'Sign in', signOut: 'Sign out', token: 'API token', tokenHelp: 'The token stays in this tab only (sessionStorage) and is gone when the tab closes.',
  tokenCreate: 'Create a token:', signingIn: 'Signing in…', badToken: 'The token is invalid, expired or revoked.', language: '中文',
  groups: 'Groups', group: 'Group', rules: 'Rules', apiDocs: 'API docs', loading: 'Loading…', retry: 'Retry',
  empty: 'Nothing yet', noGroups: 'Your token sees no groups.', noMessages: 'No messages yet in this range.',
  errServer: 'The server cannot be reached; try again shortly.', errForbidden: 'Your role may not do this (403).', errExpired: 'Your session expired; sign in again.',
  errNotFound: 'Not found (or outside your scope).', errGeneric: 'Something went wrong', requestId: 'Request id',
  name: 'Name', members: 'Members', memberCount: 'Members', timezone: 'Timezone', labels: 'Labels', status: 'Status', active: 'In group', inactive: 'Left',
  joinedAt: 'Joined', role: 'Role', memberId: 'Member id', search: 'Search name or id', sortBy: 'Sort', page: 'Page {n} of {m}', prev: 'Previous', next: 'Next',
  total: '{n} in total', exportCsv: 'Export CSV', messages: 'Messages', activeMembers: 'Active members', day: 'Day', chars: 'Characters',
  msgs7: 'Messages, last 7 days', active7: 'Avg. daily active, 7 days', checkIns7: 'Check-ins, last 7 days', modHits7: 'Violations, last 7 days', autoReply7: 'Auto-replies, last 7 days',
  vsPrev: 'vs previous 7 days', activityChart: 'Messages and active members per day (last 30 days)', showTable: 'Show as table', hideTable: 'Hide table', topMembers: 'Most active members (30 days)',
  leaderboard: 'Check-in leaderboard (streak)', streak: 'Streak', points: 'Points', rank: 'Rank', moderation: 'Moderation', autoReply: 'Auto-reply', checkIn: 'Check-in', activity: 'Activity',
  editRules: 'Edit rules', version: 'Version', save: 'Save (new version)', saving: 'Saving…', saved: 'Saved as version {n}', note: 'Note (optional)', invalid: '{n} problem(s) in the form',
  dryRun: 'Dry run', dryRunHelp: 'Paste a message and see what the rules would do (nothing is sent or recorded).', dryRunText: 'Message', run: 'Run', result: 'Result',
  versions: 'Version history', author: 'Author', at: 'Time', diff: 'Diff', rollback: 'Roll back to this version', rolledBack: 'Rolled back; new version {n}', confirmRollback: 'Roll the rules back to version {n}?',
  noVersions: 'Never changed: the rule pack defaults apply.', before: 'Before', after: 'After', path: 'Path', compareWith: 'Compare with current',
  field: 'Field', jsonField: 'JSON', reset: 'Discard changes', defaults: 'Default', yes: 'Yes', no: 'No', cannotEdit: 'Your role can only view rules.',
  owner: 'Owner', admin: 'Admin', member: 'Member', operator: 'Operator', allGroups: 'All groups', signedInAs: '{name} ({role})',
  comingSoon: 'Appears once its API lands', chartData: 'Chart data', perDay: 'Per day',
  tokens: 'Tokens', audit: 'Audit log', loadMore: 'Load more', hint: 'Ends with', createdAt: 'Created', lastUsedAt: 'Last used', revokedAt: 'Revoked',
  scope: 'Scope', method: 'Method', route: 'Route', target: 'Target', detector: 'Rule', live: 'Live', shadow: 'Shadow', removals: 'Removals',
  ruleId: 'Rule id', answered: 'Answered', suppressed: 'Suppressed (cooldown)', modByDay: 'Moderation hits (14 days)', autoByDay: 'Auto-reply hits (14 days)', value: 'Value',
}

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
  const text = (lang.get() === 'en' ? en : zh)[key]
  return text.replace(/\{(\w+)\}/g, (m, name: string) => (name in vars ? String(vars[name]) : m))
}

/** Numbers and dates in the current language. */
export const fmt = {
  n: (value: number): string => new Intl.NumberFormat(lang.get()).format(value),
  pct: (value: number): string => new Intl.NumberFormat(lang.get(), { style: 'percent', maximumFractionDigits: 1 }).format(value),
  time: (iso: string | null): string => (iso ? new Date(iso).toLocaleString(lang.get(), { hour12: false }) : '—'),
}
