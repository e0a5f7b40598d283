import { z } from 'zod'
import { RE2JS } from 're2js'

/** What a violation leads to. `ladder` = the next step of the group's strike ladder. */
export const ActionSchema = z.enum(['ladder', 'warn', 'remove', 'record'])
/** A violation's consequence. */
export type ModerationAction = z.infer<typeof ActionSchema>

/** Steps of the strike ladder. */
export const LadderStep = z.enum(['warn', 'final_warning', 'remove'])

const Term = z.string().trim().min(1).max(100)
const Domain = z.string().trim().toLowerCase().regex(/^(\*\.)?([a-z0-9-]+\.)+[a-z]{2,}$/, 'a domain like example.com')

/** Limits on owner regexes (RE2 is linear-time; these bound its size and count). */
export const REGEX_LIMITS = { maxLength: 200, maxCount: 20 }

/** Fields every detector has: on/off, shadow mode (record, never act), and an action override. */
const detector = <T extends z.ZodRawShape>(shape: T, enabled = true) => z.strictObject({
  enabled: z.boolean().default(enabled),
  /** Shadow mode: violations are recorded (and dry-runs show them) but nothing is done. */
  shadow: z.boolean().default(false),
  /** Overrides the group's default consequence for this detector. */
  action: ActionSchema.default('ladder'),
  /** Consequence when the sender joined less than `newcomer.hours` ago (ads usually come from fresh accounts). */
  newcomerAction: ActionSchema.optional(),
  ...shape,
})

/** Moderation configuration of a group (every change is versioned; see the moderation routes). */
export const ModerationRuleSchema = z.strictObject({
  enabled: z.boolean().default(false),
  words: detector({
    /** Global lists in force: `file:<name>` (rules/words/<name>.txt) or `list:<id>` (uploaded through the API). */
    lists: z.array(z.string().regex(/^(file:[a-z0-9_-]+|list:\d+)$/, 'file:<name> or list:<id>')).max(20).default(['file:ads']),
    /** The group's own extra terms. */
    add: z.array(Term).max(500).default([]),
    /** Terms that suppress a match inside them in this group (e.g. 加微信群公告 suppresses 加微信 within it). */
    except: z.array(Term).max(500).default([]),
  }).default({ enabled: true, shadow: false, action: 'ladder', lists: ['file:ads'], add: [], except: [] }),
  regex: detector({
    patterns: z.array(z.strictObject({
      name: z.string().trim().min(1).max(50),
      pattern: z.string().min(1).max(REGEX_LIMITS.maxLength).superRefine((p, ctx) => {
        try { RE2JS.compile(p) } catch (error) {
          // RE2 refuses backreferences and lookaround: the constructs that make regexes hang.
          ctx.addIssue({ code: 'custom', message: `not a pattern the linear-time engine can run: ${(error as Error).message}` })
        }
      }),
    })).max(REGEX_LIMITS.maxCount).default([]),
  }).default({ enabled: true, shadow: false, action: 'ladder', patterns: [] }),
  links: detector({
    /** Domains whose links are fine (subdomains included). */
    allowDomains: z.array(Domain).max(200).default([]),
  }, false).default({ enabled: false, shadow: false, action: 'ladder', allowDomains: [] }),
  /** Message types allowed in the group. */
  types: detector({
    miniprogram: z.boolean().default(false),
    contact: z.boolean().default(false),
    url: z.boolean().default(true),
    file: z.boolean().default(true),
  }).default({ enabled: true, shadow: false, action: 'ladder', miniprogram: false, contact: false, url: true, file: true }),
  qr: detector({
    /** QR contents that are fine: domains (example.com) or exact prefixes. */
    allow: z.array(z.string().trim().min(1).max(200)).max(100).default([]),
  }).default({ enabled: true, shadow: false, action: 'ladder', allow: [] }),
  flood: detector({
    messages: z.int().min(2).max(100).default(8),
    seconds: z.int().min(1).max(600).default(10),
  }).default({ enabled: true, shadow: false, action: 'ladder', messages: 8, seconds: 10 }),
  duplicates: detector({
    /** The same normalized text from one member more than `times` times within `minutes`. */
    memberTimes: z.int().min(2).max(100).default(3),
    memberMinutes: z.int().min(1).max(1440).default(10),
    /** The same text from anyone in at least `groups` groups within `crossMinutes` (cross-group spam). */
    groups: z.int().min(2).max(100).default(3),
    crossMinutes: z.int().min(1).max(1440).default(10),
    /** Shorter texts are never counted as duplicates (一 "好的" is not spam). */
    minChars: z.int().min(1).max(100).default(6),
  }).default({ enabled: true, shadow: false, action: 'ladder', memberTimes: 3, memberMinutes: 10, groups: 3, crossMinutes: 10, minChars: 6 }),
  newcomer: z.strictObject({
    /** Members who joined less than this many hours ago get the detectors' `newcomerAction`. */
    hours: z.int().min(0).max(24 * 30).default(24),
  }).default({ hours: 24 }),
  /** 1st, 2nd, 3rd … violation within `decayDays`. The last step repeats. */
  ladder: z.array(LadderStep).min(1).max(10).default(['warn', 'final_warning', 'remove']),
  decayDays: z.int().min(1).max(365).default(30),
  /** Members never punished (besides the group owner, admins and staff). */
  allowlist: z.array(z.string().min(1).max(191)).max(1000).default([]),
  /** The company's staff accounts: never punished. */
  staff: z.array(z.string().min(1).max(191)).max(1000).default([]),
  welcome: z.strictObject({
    enabled: z.boolean().default(false),
    /** {members} {group} {rules} */
    template: z.string().min(1).max(1000).default('欢迎 {members} 加入{group}！{rules}'),
    /** Joins within this window are greeted together. */
    windowSeconds: z.int().min(0).max(600).default(30),
  }).default({ enabled: false, template: '欢迎 {members} 加入{group}！{rules}', windowSeconds: 30 }),
  texts: z.strictObject({
    /** {rule} {strike} {max} */
    warn: z.string().min(1).max(500).default('请遵守群规：{rule}（第 {strike} 次提醒）'),
    finalWarning: z.string().min(1).max(500).default('最后一次提醒：{rule}。再次违规将被移出本群'),
    removed: z.string().min(1).max(500).default('{member} 多次违反群规（{rule}），已被移出本群'),
    /** Told to the owner when a removal fails. {member} {group} {reason} */
    removalFailed: z.string().min(1).max(500).default('【群运】无法将 {member} 移出「{group}」：{reason}。请确认机器人是群管理员。'),
    /** Summary of the rules in the welcome message. */
    rules: z.string().min(0).max(500).default('群内禁止广告、二维码和刷屏，请文明交流。'),
  }).default({
    warn: '请遵守群规：{rule}（第 {strike} 次提醒）', finalWarning: '最后一次提醒：{rule}。再次违规将被移出本群',
    removed: '{member} 多次违反群规（{rule}），已被移出本群', removalFailed: '【群运】无法将 {member} 移出「{group}」：{reason}。请确认机器人是群管理员。',
    rules: '群内禁止广告、二维码和刷屏，请文明交流。',
  }),
})

/** Validated moderation configuration. */
export type ModerationRule = z.infer<typeof ModerationRuleSchema>

/** Detector names, as recorded in events. */
export type DetectorName = 'words' | 'regex' | 'links' | 'types' | 'qr' | 'flood' | 'duplicates'

/** Human-readable rule names for warnings (zh-CN). */
export const RULE_LABELS: Record<DetectorName, string> = {
  words: '禁止发布广告和敏感内容', regex: '禁止发布违规内容', links: '禁止发布外部链接', types: '禁止发送小程序、名片等卡片',
  qr: '禁止发布二维码', flood: '禁止刷屏', duplicates: '禁止重复发送相同内容',
}
