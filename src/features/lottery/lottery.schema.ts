import { z } from 'zod'
import { GroupId } from '../../kernel/routes'

const Instant = z.iso.datetime({ offset: true })
/** A time of the lottery: with an offset, or a local time (`2026-11-27T20:00`) read in the lottery's first group's timezone. */
const GroupTime = z.iso.datetime({ offset: true, local: true })
const MemberId = z.string().min(1).max(191)

/** A prize: what it is, how many, and how a winner claims it. */
export const PrizeSchema = z.strictObject({
  name: z.string().trim().min(1).max(50),
  quantity: z.int().min(1).max(1000),
  claimInstructions: z.string().trim().max(500).optional(),
})

/** How members enter. */
export const EntrySchema = z.strictObject({
  /** Said in the group while the lottery is open; matched on normalized text like auto-reply keywords. */
  keyword: z.string().trim().min(1).max(20).default('参与抽奖'),
  /** Points (check-in ledger) an entry costs; 0: free. Refunded when the lottery is cancelled. */
  pointsCost: z.int().min(0).max(1_000_000).default(0),
  /** At close, also enter everyone who checked in today / this week (the last 7 days). */
  autoCheckedIn: z.enum(['none', 'today', 'week']).default('none'),
})

/** Who may win; checked at entry (for an answer) and again at the draw (which records every exclusion). */
export const EligibilitySchema = z.strictObject({
  /** Only members who joined the group before this instant. */
  joinedBefore: Instant.optional(),
  /** Only members who spoke in the group in the last N days (the activity rollups). */
  activeInLastDays: z.int().min(1).max(365).optional(),
  /** Only members whose check-in streak is at least N. */
  minStreak: z.int().min(1).max(3650).optional(),
  /** Exclude the group owner and admins. */
  excludeStaff: z.boolean().default(true),
  /** Members never eligible. */
  excludeMemberIds: z.array(MemberId).max(1000).default([]),
  /** Exclude winners of the owner's last K drawn lotteries. */
  notWinnerOfLast: z.int().min(0).max(100).default(0),
})

/** When it opens, closes and draws (local times in the first group's timezone, or instants with an offset). */
export const TimesSchema = z.strictObject({
  /** Opens by itself at this time (otherwise: POST …/open). */
  opensAt: GroupTime.optional(),
  closesAt: GroupTime.optional(),
  drawAt: GroupTime.optional(),
  /** Close and draw as soon as this many members entered. */
  drawWhenEntries: z.int().min(1).max(1_000_000).optional(),
})

/** A lottery as an owner writes it (create and edit). */
export const LotterySchema = z.strictObject({
  title: z.string().trim().min(1).max(100),
  description: z.string().trim().max(1000).default(''),
  groupIds: z.array(GroupId).min(1).max(20).refine((ids) => new Set(ids).size === ids.length, 'groups must be unique'),
  prizes: z.array(PrizeSchema).min(1).max(20),
  entry: EntrySchema.default(EntrySchema.parse({})),
  eligibility: EligibilitySchema.default(EligibilitySchema.parse({})),
  times: TimesSchema,
  /** Hours a winner has to claim a prize. */
  claimWindowHours: z.int().min(1).max(24 * 90).default(72),
}).superRefine((l, ctx) => {
  const t = l.times
  const ms = (s: string | undefined): number | undefined => (s === undefined ? undefined : Date.parse(s))
  const [opens, closes, draws] = [ms(t.opensAt), ms(t.closesAt), ms(t.drawAt)]
  if (closes === undefined && t.drawWhenEntries === undefined) ctx.addIssue({ code: 'custom', path: ['times', 'closesAt'], message: 'set closesAt (and drawAt), or drawWhenEntries' })
  if ((closes === undefined) !== (draws === undefined)) ctx.addIssue({ code: 'custom', path: ['times', 'drawAt'], message: 'closesAt and drawAt go together' })
  if (closes !== undefined && draws !== undefined && draws < closes) ctx.addIssue({ code: 'custom', path: ['times', 'drawAt'], message: 'the draw cannot be before the close' })
  if (opens !== undefined && closes !== undefined && closes <= opens) ctx.addIssue({ code: 'custom', path: ['times', 'closesAt'], message: 'the close must be after the opening' })
})

/** Validated lottery definition. */
export type LotteryConfig = z.infer<typeof LotterySchema>

/** Path parameter naming one lottery. */
export const LotteryParams = z.strictObject({ lotteryId: z.coerce.number().int().positive().max(2 ** 31) })

/** States of a lottery. */
export const LOTTERY_STATES = ['draft', 'open', 'closed', 'drawn', 'cancelled'] as const
export type LotteryStatus = (typeof LOTTERY_STATES)[number]

/** Query of the lottery list. */
export const ListQuery = z.strictObject({ status: z.enum(LOTTERY_STATES).optional(), groupId: GroupId.optional() })

/** Query of the entrant list (paged by id). */
export const EntrantsQuery = z.strictObject({ after: z.coerce.number().int().min(0).default(0), limit: z.coerce.number().int().min(1).max(500).default(100) })

/** A member's state as the eligibility dry run takes it. */
export const MemberStateSchema = z.strictObject({
  id: MemberId,
  role: z.enum(['owner', 'admin', 'member']).default('member'),
  joinedAt: Instant.optional(),
  /** Left the group (never eligible). */
  left: z.boolean().default(false),
  /** Last day (YYYY-MM-DD) they spoke. */
  lastActiveDay: z.string().regex(/^\d{4}-\d{2}-\d{2}$/).optional(),
  streak: z.int().min(0).default(0),
  /** Won one of the owner's last K lotteries. */
  recentWinner: z.boolean().default(false),
})

/** Body of the eligibility dry run: a config's eligibility and member states. */
export const DryRunBody = z.strictObject({
  eligibility: EligibilitySchema.default(EligibilitySchema.parse({})),
  /** The day the check runs (YYYY-MM-DD in the group's timezone). */
  today: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
  members: z.array(MemberStateSchema).min(1).max(1000),
})

/** Body of a reroll: the winners to replace (default: those whose claim window passed without a claim). */
export const RerollBody = z.strictObject({ memberIds: z.array(MemberId).min(1).max(100).refine((ids) => new Set(ids).size === ids.length, 'ids must be unique').optional() })

/** Body of a claim (核销): the winner by claim code or member id, and the new state. */
export const ClaimBody = z.strictObject({
  code: z.string().trim().toUpperCase().regex(/^[A-Z0-9]{4,16}$/).optional(),
  memberId: MemberId.optional(),
  status: z.enum(['claimed', 'fulfilled']).default('claimed'),
}).refine((b) => (b.code === undefined) !== (b.memberId === undefined), 'give either code or memberId')
