import { RE2Set } from 're2js'
import { WordList } from '../../text/automaton'
import { normalize, normalizeTerm } from '../../text/normalize'
import { addDays, localTime } from '../../kernel/time'
import { renderTemplate } from '../../kernel/template'
import { servesGroup, type TokenScopes } from '../../contracts/access'
import type { AutoReplyRule } from './auto-reply.rules'

/** A stored rule, ready to match. */
export interface LiveRule extends AutoReplyRule {
  id: number
  ownerTokenId: number | null
  position: number
}

/** Facts about the message the conditions look at. */
export interface MatchInput {
  text: string
  /** `text` normalized already (the message context's, computed once per message), if at hand. */
  normalized?: string
  groupId: string
  groupLabels: readonly string[]
  timezone: string
  at: number
  mentionsBot: boolean
  memberJoinedAt: number | null
}

/** Why a matching rule would not answer. */
export type Blocked = 'out_of_scope' | 'mention_required' | 'outside_window' | 'not_newcomer'

/** A rule whose trigger matched, with whether its conditions allow it. */
export interface Candidate { rule: LiveRule; blocked: Blocked | null }

interface TermEntry { rule: number; type: 'exact' | 'startsWith' | 'contains' }

/** ISO weekday (1 = Monday … 7 = Sunday) of a YYYY-MM-DD day. */
function isoWeekday(day: string): number {
  const w = new Date(`${day}T00:00:00Z`).getUTCDay()
  return w === 0 ? 7 : w
}

function minutes(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number) as [number, number]
  return h * 60 + m
}

/** Whether the local time is inside one of the windows (a window may cross midnight; its days are the start's). */
export function insideWindows(windows: AutoReplyRule['conditions']['windows'], at: number, timezone: string): boolean {
  if (windows.length === 0) return true
  const t = localTime(at, timezone)
  const now = t.hour * 60 + t.minute
  const today = isoWeekday(t.day)
  const yesterday = isoWeekday(addDays(t.day, -1))
  return windows.some((w) => {
    const from = minutes(w.from)
    const to = minutes(w.to)
    if (from < to) return w.days.includes(today) && now >= from && now < to
    // Across midnight: the evening part belongs to today, the early part to yesterday's window.
    return (w.days.includes(today) && now >= from) || (w.days.includes(yesterday) && now < to)
  })
}

/**
 * Every enabled rule compiled once: one Aho–Corasick automaton over all keywords (normalized like
 * moderation: width, case, traditional → simplified, noise) and one RE2 set over all regexes (linear time),
 * so a message costs one pass of each however many rules there are. Scope is checked only for the few
 * rules whose trigger matched.
 */
export class RuleIndex {
  private readonly automaton: WordList | null
  private readonly termEntries: TermEntry[][]
  private readonly regexSet: RE2Set | null
  private readonly regexRules: number[]

  constructor(readonly rules: readonly LiveRule[]) {
    const byTerm = new Map<string, TermEntry[]>()
    const regexRules: number[] = []
    const set = new RE2Set(RE2Set.UNANCHORED)
    rules.forEach((rule, index) => {
      if (!rule.enabled) return
      const t = rule.trigger
      if (t.type === 'regex') {
        set.add(t.pattern)
        regexRules.push(index)
        return
      }
      const type = t.type === 'any' ? 'contains' : t.type
      for (const keyword of t.keywords) {
        const term = normalizeTerm(keyword)
        if (!term) continue
        const entries = byTerm.get(term) ?? []
        entries.push({ rule: index, type })
        byTerm.set(term, entries)
      }
    })
    const terms = [...byTerm.keys()]
    this.automaton = terms.length > 0 ? WordList.build('auto-reply', 'auto-reply keywords', terms).list : null
    this.termEntries = this.automaton ? this.automaton.terms.map((term) => byTerm.get(normalizeTerm(term)) ?? []) : []
    if (regexRules.length > 0) set.compile()
    this.regexSet = regexRules.length > 0 ? set : null
    this.regexRules = regexRules
  }

  /** The normalized form of a text (what triggers are matched against). */
  static normalized(text: string): string { return normalize(text).text }

  /** Rules whose trigger matches, in order, each with the condition (if any) that blocks it (`owners`: live token scopes). */
  candidates(input: MatchInput, owners: TokenScopes): { normalized: string; candidates: Candidate[] } {
    const normalized = input.normalized ?? RuleIndex.normalized(input.text)
    const hits = new Set<number>()
    if (this.automaton && normalized.length > 0) {
      const entries = this.termEntries
      this.automaton.match(normalized, (termIndex, start, end) => {
        for (const e of entries[termIndex] ?? []) {
          if (e.type === 'contains' || (e.type === 'startsWith' && start === 0) || (e.type === 'exact' && start === 0 && end === normalized.length)) hits.add(e.rule)
        }
      })
    }
    if (this.regexSet && normalized.length > 0) for (const i of this.regexSet.match(normalized)) hits.add(this.regexRules[i] as number)
    const ordered = [...hits].sort((a, b) => a - b).map((i) => this.rules[i] as LiveRule)
    return { normalized, candidates: ordered.map((rule) => ({ rule, blocked: this.blocked(rule, input, owners) })) }
  }

  /** Whether a rule serves a group (its scope, within its owner's current grants). */
  serves(rule: LiveRule, groupId: string, labels: readonly string[], owners: TokenScopes): boolean {
    if (!servesGroup(owners, rule.ownerTokenId, groupId)) return false
    const scope = rule.scope
    if (scope.type === 'all') return true
    if (scope.type === 'groups') return scope.groupIds.includes(groupId)
    return scope.labels.some((l) => labels.includes(l))
  }

  private blocked(rule: LiveRule, input: MatchInput, owners: TokenScopes): Blocked | null {
    if (!this.serves(rule, input.groupId, input.groupLabels, owners)) return 'out_of_scope'
    const c = rule.conditions
    if (c.mentionOnly && !input.mentionsBot) return 'mention_required'
    if (!insideWindows(c.windows, input.at, input.timezone)) return 'outside_window'
    if (c.newcomerHours !== undefined && (input.memberJoinedAt === null || input.at - input.memberJoinedAt > c.newcomerHours * 3_600_000)) return 'not_newcomer'
    return null
  }
}

/** Fills {member} {group} {date} {time} (date and time in the group's timezone). */
export function renderAnswer(template: string, vars: { member: string; group: string; at: number; timezone: string }): string {
  const t = localTime(vars.at, vars.timezone)
  const time = `${String(t.hour).padStart(2, '0')}:${String(t.minute).padStart(2, '0')}`
  return renderTemplate(template, { member: vars.member, group: vars.group, date: t.day, time })
}
