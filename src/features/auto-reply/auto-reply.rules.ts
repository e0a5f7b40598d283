import { z } from 'zod'
import { RE2JS } from 're2js'

const HHMM = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$|^24:00$/, 'a time like 09:00')
const Keyword = z.string().trim().min(1).max(50)
const GroupId = z.string().min(1).max(191)
const Label = z.string().trim().min(1).max(32)

/** Limits that keep owner regexes cheap (RE2 is linear-time; these bound its size). */
export const REGEX_LIMITS = { maxLength: 200, maxPerRule: 1 }

/** Compiles a pattern with RE2 (linear time, no backtracking); returns the reason it cannot be used, or null. */
export function regexProblem(pattern: string): string | null {
  if (pattern.length > REGEX_LIMITS.maxLength) return `at most ${REGEX_LIMITS.maxLength} characters`
  try {
    RE2JS.compile(pattern)
    return null
  } catch (error) {
    // RE2 refuses backreferences and lookaround: exactly the constructs that make regexes hang.
    return `not a pattern the linear-time engine can run: ${(error as Error).message}`
  }
}

/** What makes a rule fire, matched on normalized text (width, case, traditional/simplified, noise). */
export const TriggerSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('exact'), keywords: z.array(Keyword).min(1).max(50) }),
  z.strictObject({ type: z.literal('contains'), keywords: z.array(Keyword).min(1).max(50) }),
  z.strictObject({ type: z.literal('startsWith'), keywords: z.array(Keyword).min(1).max(50) }),
  /** Any of several keywords anywhere (same as contains; kept for owners who think in "any of"). */
  z.strictObject({ type: z.literal('any'), keywords: z.array(Keyword).min(2).max(50) }),
  z.strictObject({ type: z.literal('regex'), pattern: z.string().min(1).superRefine((p, ctx) => {
    const problem = regexProblem(p)
    if (problem) ctx.addIssue({ code: 'custom', message: problem })
  }) }),
])

/** Which groups a rule serves. */
export const ScopeSchema = z.discriminatedUnion('type', [
  /** Every group of the rule's owner (admins: every group). */
  z.strictObject({ type: z.literal('all') }),
  z.strictObject({ type: z.literal('groups'), groupIds: z.array(GroupId).min(1).max(1000) }),
  z.strictObject({ type: z.literal('labels'), labels: z.array(Label).min(1).max(20) }),
])

/** A time window in the group's timezone; days are ISO weekdays (1 = Monday … 7 = Sunday). */
export const WindowSchema = z.strictObject({
  days: z.array(z.int().min(1).max(7)).min(1).max(7).default([1, 2, 3, 4, 5, 6, 7]),
  from: HHMM,
  to: HHMM,
}).refine((w) => w.from !== w.to, 'from and to must differ (a window across midnight is fine: 22:00–02:00)')

/** When a matching rule may answer. */
export const ConditionsSchema = z.strictObject({
  /** Only when the bot is @-mentioned. */
  mentionOnly: z.boolean().default(false),
  /** Only inside one of these windows (none = always). */
  windows: z.array(WindowSchema).max(10).default([]),
  /** Only for members who joined less than this many hours ago. */
  newcomerHours: z.int().min(1).max(24 * 90).optional(),
})

/** How often a rule may answer. */
export const CooldownSchema = z.strictObject({
  /** At most once per this many seconds per group. */
  groupSeconds: z.int().min(0).max(7 * 86_400).default(300),
  /** At most once per this many seconds per member. */
  memberSeconds: z.int().min(0).max(7 * 86_400).default(0),
})

/** One way of answering; a rule may have several, picked at random. */
export const VariantSchema = z.strictObject({
  /** Template: {member} {group} {date} {time}. */
  text: z.string().max(1000).optional(),
  mention: z.boolean().default(false),
  link: z.strictObject({ url: z.url({ protocol: /^https?$/ }).max(2000), title: z.string().min(1).max(100), description: z.string().max(200).optional(), thumbnailUrl: z.url({ protocol: /^https?$/ }).max(2000).optional() }).optional(),
  imageUrl: z.url({ protocol: /^https?$/ }).max(2000).optional(),
}).refine((v) => v.text || v.link || v.imageUrl, 'a variant needs text, a link card or an image')

/** A keyword auto-reply rule as owners write it (API body, CSV import, rule files). */
export const AutoReplyRuleSchema = z.strictObject({
  name: z.string().trim().min(1).max(100),
  enabled: z.boolean().default(true),
  trigger: TriggerSchema,
  scope: ScopeSchema.default({ type: 'all' }),
  conditions: ConditionsSchema.default({ mentionOnly: false, windows: [] }),
  cooldown: CooldownSchema.default({ groupSeconds: 300, memberSeconds: 0 }),
  /** Let later rules answer too (the rare case where two answers are wanted). */
  alsoContinue: z.boolean().default(false),
  answer: z.strictObject({ variants: z.array(VariantSchema).min(1).max(10) }),
})

/** A validated rule. */
export type AutoReplyRule = z.infer<typeof AutoReplyRuleSchema>

/** Per-group switch in the rule pack / rules API. */
export const AutoReplyGroupSchema = z.strictObject({
  enabled: z.boolean().default(true),
  /** At most this many answers to one message (with alsoContinue rules). */
  maxAnswersPerMessage: z.int().min(1).max(5).default(2),
})

/** Validated per-group settings. */
export type AutoReplyGroup = z.infer<typeof AutoReplyGroupSchema>
