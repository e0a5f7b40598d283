import { z } from 'zod'
import { isTimezone } from '../../config/config.schema'
import { GroupId } from '../../kernel/routes'
import { parseCron } from './scheduled-share.cron'

/** Variables a post's text may use, with what they stand for (the README lists them too). */
export const TEMPLATE_VARIABLES = {
  group: "the group's name",
  date: "today's date in the group's timezone (YYYY-MM-DD)",
  weekday: 'the weekday in Chinese (星期一 …)',
  time: 'the local time of the run (HH:mm)',
  members: "the group's member count",
  checkIns: "today's check-in count",
  topMembers: 'the three most active members of the last 7 days (names, 、-separated)',
} as const

/** Names a template uses that are not variables (the 400 names them). */
export function unknownVariables(template: string): string[] {
  const out: string[] = []
  for (const [, name] of template.matchAll(/\{([a-zA-Z]+)\}/g)) {
    if (!(name as string in TEMPLATE_VARIABLES) && !out.includes(name as string)) out.push(name as string)
  }
  return out
}

const Day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a day like 2026-12-31').refine((d) => !Number.isNaN(Date.parse(`${d}T00:00:00Z`)), 'not a date')
const Tag = z.string().trim().min(1).max(32)
const HttpsUrl = z.url({ protocol: /^https?$/ }).max(1000)
const Id = z.int().positive().max(2 ** 31)

/** A link card a post may carry (the outbound queue sends it as a card). */
export const CardSchema = z.strictObject({
  url: HttpsUrl,
  title: z.string().trim().min(1).max(100),
  description: z.string().max(200).optional(),
  thumbnailUrl: HttpsUrl.optional(),
})

/** Body of a content-library post (create and replace). */
export const PostBody = z.strictObject({
  title: z.string().trim().min(1).max(100),
  /** The text sent, with variables in braces: {group} {date} {weekday} {time} {members} {checkIns}. */
  text: z.string().trim().min(1).max(2000).superRefine((t, ctx) => {
    const unknown = unknownVariables(t)
    if (unknown.length > 0) ctx.addIssue({ code: 'custom', message: `unknown variable ${unknown.map((n) => `{${n}}`).join(', ')}; known: ${Object.keys(TEMPLATE_VARIABLES).map((n) => `{${n}}`).join(' ')}` })
  }),
  /** An image sent after the text, by URL … */
  imageUrl: HttpsUrl.nullable().default(null),
  /** … or one of your uploaded images (POST /api/v1/share-images); not both. */
  imageId: Id.nullable().default(null),
  /** A link card sent after the text. */
  card: CardSchema.nullable().default(null),
  /** Topic names: rotations pick posts by tag. */
  tags: z.array(Tag).max(20).default([]).refine((t) => new Set(t).size === t.length, 'tags must be unique'),
  /** Last day the post may be sent (in the group's timezone); null = never expires. */
  expiresOn: Day.nullable().default(null),
}).refine((p) => p.imageUrl === null || p.imageId === null, { path: ['imageId'], message: 'give imageUrl or imageId, not both' })

/** When a schedule fires, in the group's (or the schedule's) timezone. */
export const TriggerSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('cron'),
    cron: z.string().trim().min(9).max(100).superRefine((c, ctx) => {
      const parsed = parseCron(c)
      if ('problem' in parsed) ctx.addIssue({ code: 'custom', message: `invalid cron expression: ${parsed.problem}` })
    }),
  }),
  z.strictObject({ type: z.literal('once'), at: z.string().regex(/^\d{4}-\d{2}-\d{2}T([01]\d|2[0-3]):[0-5]\d$/, 'a local time like 2026-12-01T09:00') }),
])

/** Which groups a schedule posts to. */
export const TargetSchema = z.discriminatedUnion('type', [
  /** Every group of the schedule's owner (admins: every group), in name order. */
  z.strictObject({ type: z.literal('all') }),
  /** These groups, in this order. */
  z.strictObject({ type: z.literal('groups'), groupIds: z.array(GroupId).min(1).max(1000).refine((g) => new Set(g).size === g.length, 'group ids must be unique') }),
  /** Every group of the owner with this label, in name order. */
  z.strictObject({ type: z.literal('label'), label: z.string().trim().min(1).max(32) }),
])

/** What a run posts: one post, a list in turn, a topic (tag) per weekday, or the next unused post of a tag. */
export const ContentSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('post'), postId: Id }),
  z.strictObject({ type: z.literal('list'), postIds: z.array(Id).min(1).max(500).refine((p) => new Set(p).size === p.length, 'post ids must be unique') }),
  /** ISO weekday (1 = Monday … 7 = Sunday) → tag; days without a tag post nothing (logged as skipped). */
  z.strictObject({ type: z.literal('weekday'), tags: z.record(z.enum(['1', '2', '3', '4', '5', '6', '7']), Tag).refine((t) => Object.keys(t).length > 0, 'at least one weekday') }),
  z.strictObject({ type: z.literal('tag'), tag: Tag }),
])

/** Body of a schedule (create and replace). */
export const ScheduleBody = z.strictObject({
  name: z.string().trim().min(1).max(100),
  /** false = paused. */
  enabled: z.boolean().default(true),
  trigger: TriggerSchema,
  /** IANA timezone for every target group; null = each group's own timezone. */
  timezone: z.string().min(1).max(64).refine(isTimezone, 'unknown IANA timezone').nullable().default(null),
  target: TargetSchema,
  content: ContentSchema,
  /** A post is not repeated in the same group within this many days (0 = no limit). */
  noRepeatDays: z.int().min(0).max(365).default(0),
  /** Sends of one run are spread evenly over this window (seconds), in target order. */
  staggerSeconds: z.int().min(0).max(3600).default(300),
  /** Runs missed while down are posted once if at most this old; older ones are logged as missed. */
  graceMinutes: z.int().min(1).max(120).default(10),
})

/** A validated schedule body. */
export type ScheduleInput = z.infer<typeof ScheduleBody>
/** A validated post body. */
export type PostInput = z.infer<typeof PostBody>

/** Body of an image upload: the declared type (checked against the content) and the bytes, base64. */
export const ImageUploadBody = z.strictObject({
  mime: z.enum(['image/png', 'image/jpeg', 'image/gif', 'image/webp']),
  /** Your label for it (shown in lists). */
  name: z.string().trim().min(1).max(100).nullable().default(null),
  data: z.string().min(1).regex(/^[A-Za-z0-9+/]*={0,2}$/, 'base64 (standard alphabet)'),
})
/** Path parameter naming one uploaded image. */
export const ImageParams = z.strictObject({ imageId: z.coerce.number().int().positive().max(2 ** 31) })

/** Path parameter naming one post. */
export const PostParams = z.strictObject({ postId: z.coerce.number().int().positive().max(2 ** 31) })
/** Path parameter naming one schedule. */
export const ScheduleParams = z.strictObject({ scheduleId: z.coerce.number().int().positive().max(2 ** 31) })

/** Query of the post list. */
export const PostsQuery = z.strictObject({ tag: Tag.optional() })
/** Query of the preview. */
export const PreviewQuery = z.strictObject({ count: z.coerce.number().int().min(1).max(50).default(5) })
/** Body of a test send. */
export const TestSendBody = z.strictObject({ groupId: GroupId, postId: Id.optional() })
/** Body of pause / resume. */
export const PauseBody = z.strictObject({ enabled: z.boolean() })

/** Statuses of the delivery log. */
export const SEND_STATUSES = ['planned', 'queued', 'sent', 'failed', 'skipped', 'missed'] as const
/** Query of the delivery log. */
export const DeliveriesQuery = z.strictObject({
  status: z.enum(SEND_STATUSES).optional(),
  groupId: GroupId.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  /** Rows with an id below this (the previous page's `nextBefore`). */
  before: z.coerce.number().int().positive().optional(),
})
