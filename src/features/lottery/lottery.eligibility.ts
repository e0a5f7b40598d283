import { addDays } from '../../kernel/time'
import type { z } from 'zod'
import type { EligibilitySchema } from './lottery.schema'

/** Eligibility settings of a lottery. */
export type Eligibility = z.infer<typeof EligibilitySchema>

/** What the eligibility check knows about one member. */
export interface MemberFacts {
  id: string
  role: 'owner' | 'admin' | 'member' | 'bot'
  /** When they joined (ms), null when unknown. */
  joinedAt: number | null
  /** Left the group (or not in it). */
  left: boolean
  /** Last day before today they spoke (YYYY-MM-DD in the group's timezone), null: not in the window looked at. */
  lastActiveDay: string | null
  /** Current check-in streak. */
  streak: number
  /** Won one of the owner's last K drawn lotteries. */
  recentWinner: boolean
}

/**
 * Why a member may not enter or win (null: eligible). One pure function, used at entry (for an answer),
 * at the draw (every exclusion recorded in the proof) and by the dry run.
 */
export function ineligibility(rule: Eligibility, m: MemberFacts, today: string): string | null {
  if (m.left) return 'not in the group'
  if (m.role === 'bot') return 'a bot'
  if (rule.excludeStaff && (m.role === 'owner' || m.role === 'admin')) return 'group staff'
  if (rule.excludeMemberIds.includes(m.id)) return 'excluded by the organiser'
  if (rule.joinedBefore !== undefined) {
    if (m.joinedAt === null) return 'join time unknown'
    if (m.joinedAt >= Date.parse(rule.joinedBefore)) return `joined after ${rule.joinedBefore}`
  }
  if (rule.activeInLastDays !== undefined && (m.lastActiveDay === null || m.lastActiveDay < activeSince(rule.activeInLastDays, today))) {
    return `not active in the last ${rule.activeInLastDays} days`
  }
  if (rule.minStreak !== undefined && m.streak < rule.minStreak) return `check-in streak below ${rule.minStreak}`
  if (rule.notWinnerOfLast > 0 && m.recentWinner) return `won one of the last ${rule.notWinnerOfLast} lotteries`
  return null
}

/**
 * First day of the "active in the last N days" window: the N days before `today`. Today does not count —
 * a keyword entry is itself a message today, so counting today would make every entrant "active".
 */
export function activeSince(days: number, today: string): string {
  return addDays(today, -days)
}

/** Short Chinese reason for a member's answer. */
export function reasonZh(reason: string): string {
  if (reason === 'not in the group') return '不在群里'
  if (reason === 'group staff') return '群主和管理员不参与'
  if (reason === 'excluded by the organiser') return '主办方设置'
  if (reason === 'join time unknown' || reason.startsWith('joined after')) return '入群时间不符合'
  if (reason.startsWith('not active')) return '近期活跃度不够'
  if (reason.startsWith('check-in streak')) return '连续签到天数不够'
  if (reason.startsWith('won one')) return '最近已中过奖'
  return '不符合条件'
}
