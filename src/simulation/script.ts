import { parse as parseYaml } from 'yaml'
import { z } from 'zod'
import type { Config } from '../config/config.schema'
import type { Logger } from '../kernel/logger'
import { roomId } from '../adapters/wechaty/sim-world'
import { Rehearsal, SCRIPT_MESSAGE_TYPES } from './rehearsal'

/** A script that does not parse or does not make sense; the message lists every problem. */
export class ScriptError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.length === 1 ? (problems[0] as string) : `\n${problems.map((p) => `  - ${p}`).join('\n')}`)
    this.name = 'ScriptError'
  }
}

const Time = z.string().regex(/^(\+\d+(\.\d+)?(ms|s|m|h|d)|\d{4}-\d{2}-\d{2}T[\d:.]+(Z|[+-]\d{2}:\d{2}))$/, 'use an offset like +90s, +5m, +2h, +1d or an ISO time with zone')
const Person = z.union([z.string().min(1), z.strictObject({ id: z.string().min(1), name: z.string().min(1).optional() })])

const MemberSchema = z.strictObject({
  id: z.string().min(1).max(100),
  name: z.string().min(1).max(100).optional(),
  role: z.enum(['owner', 'admin', 'member']).default('member'),
  /** When they joined: offset from start (-30d) or ISO time. */
  joinedAt: z.string().regex(/^(-\d+(\.\d+)?(ms|s|m|h|d)|\d{4}-\d{2}-\d{2}T[\d:.]+(Z|[+-]\d{2}:\d{2}))$/, 'use -30d style offsets or an ISO time with zone').optional(),
})

const Step = z.strictObject({
  at: Time,
  group: z.string().min(1),
  from: z.string().min(1).optional(),
  say: z.string().max(5000).optional(),
  type: z.enum(SCRIPT_MESSAGE_TYPES as [string, ...string[]]).optional(),
  title: z.string().max(500).optional(),
  url: z.string().max(2000).optional(),
  mentions: z.array(z.string().min(1)).max(50).optional(),
  id: z.string().min(1).max(100).optional(),
  join: z.array(Person).min(1).optional(),
  leave: z.array(z.string().min(1)).min(1).optional(),
  rename: z.string().min(1).max(100).optional(),
  by: z.string().min(1).optional(),
})

/** The rehearsal script format (see README "Rehearsing with qunyun simulate"). */
export const ScriptSchema = z.strictObject({
  start: z.string().regex(/^\d{4}-\d{2}-\d{2}T[\d:.]+(Z|[+-]\d{2}:\d{2})$/, 'ISO time with zone, e.g. 2026-11-23T09:00:00+08:00').optional(),
  seed: z.int().optional(),
  groups: z.array(z.strictObject({
    id: z.string().min(1).max(100),
    name: z.string().min(1).max(100),
    members: z.array(MemberSchema).min(1).max(500),
  })).min(1).max(50),
  rules: z.record(z.string(), z.record(z.string(), z.unknown())).optional(),
  timeline: z.array(Step).max(100_000),
})

/** A parsed script. */
export type Script = z.infer<typeof ScriptSchema>

/** One line of the transcript. */
export interface TranscriptEntry {
  at: string
  group: string
  actor: string
  kind: 'message' | 'join' | 'leave' | 'rename' | 'bot.say' | 'bot.remove' | 'bot.add' | 'bot.tag' | 'bot.acceptInvitation'
  text?: string
  type?: string
  members?: string[]
  mentions?: string[]
  messageId?: string
}

const UNIT: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

function offsetMs(text: string): number {
  const m = /^([+-])(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text)
  if (!m) return Number.NaN
  return (m[1] === '-' ? -1 : 1) * Number(m[2]) * (UNIT[m[3] as string] as number)
}

function instant(text: string, start: number): number {
  return text.startsWith('+') || text.startsWith('-') ? start + offsetMs(text) : Date.parse(text)
}

/** Parses and checks a script: schema problems and references to unknown groups or members. */
export function parseScript(text: string): Script {
  let raw: unknown
  try { raw = parseYaml(text) } catch (error) { throw new ScriptError([`not valid YAML: ${(error as Error).message}`]) }
  const parsed = ScriptSchema.safeParse(raw)
  if (!parsed.success) throw new ScriptError(parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`))
  const script = parsed.data
  const problems: string[] = []
  const groups = new Map(script.groups.map((g) => [g.id, new Set(g.members.map((m) => m.id))]))
  if (groups.size !== script.groups.length) problems.push('groups: group ids must be unique')
  const start = script.start ? Date.parse(script.start) : 0
  let last = Number.NEGATIVE_INFINITY
  script.timeline.forEach((step, i) => {
    const where = `timeline.${i}`
    const members = groups.get(step.group)
    if (!members) { problems.push(`${where}.group: no group "${step.group}" in groups`); return }
    const actions = [step.say !== undefined || step.type !== undefined, step.join, step.leave, step.rename].filter(Boolean).length
    if (actions !== 1) problems.push(`${where}: give exactly one of say (or type), join, leave, rename`)
    if ((step.say !== undefined || step.type !== undefined) && !step.from) problems.push(`${where}.from: who says it?`)
    if (step.from && !members.has(step.from)) problems.push(`${where}.from: "${step.from}" is not a member of "${step.group}" at this point`)
    for (const m of step.mentions ?? []) if (!members.has(m)) problems.push(`${where}.mentions: "${m}" is not a member of "${step.group}"`)
    for (const p of step.join ?? []) {
      const id = typeof p === 'string' ? p : p.id
      if (members.has(id)) problems.push(`${where}.join: "${id}" is already in "${step.group}"`)
      members.add(id)
    }
    for (const id of step.leave ?? []) {
      if (!members.has(id)) problems.push(`${where}.leave: "${id}" is not in "${step.group}"`)
      members.delete(id)
    }
    const at = instant(step.at, start)
    if (at < last) problems.push(`${where}.at: time goes backwards (steps must be in time order)`)
    last = Math.max(last, at)
  })
  if (problems.length > 0) throw new ScriptError(problems)
  return script
}

/** Plays a script through the real runtime on the mock puppet with a fake clock and an in-memory database. */
export async function runScript(text: string, opts: { config: Config; log: Logger }): Promise<{ start: string; end: string; transcript: TranscriptEntry[]; summary: Record<string, number> }> {
  const script = parseScript(text)
  const start = script.start ? Date.parse(script.start) : Date.now()
  const names = new Map<string, string>()
  for (const g of script.groups) for (const m of g.members) names.set(m.id, m.name ?? m.id)
  const rehearsal = await Rehearsal.start({
    config: opts.config, log: opts.log, start, seed: script.seed, rules: script.rules,
    groups: script.groups.map((g) => ({
      id: g.id, name: g.name,
      members: g.members.map((m) => ({ id: m.id, name: m.name ?? m.id, role: m.role, joinedAt: m.joinedAt ? instant(m.joinedAt, start) : undefined })),
    })),
  })
  const iso = (ms: number): string => new Date(ms).toISOString()
  const plain = (group: string): string => script.groups.find((g) => roomId(g.id) === group || g.id === group)?.id ?? group
  const transcript: TranscriptEntry[] = []
  const firstAction = rehearsal.actions.length
  try {
    for (const step of script.timeline) {
      await rehearsal.advanceTo(instant(step.at, start))
      const at = iso(rehearsal.clock.now())
      if (step.join) {
        const people = step.join.map((p) => (typeof p === 'string' ? { id: p, name: p } : { id: p.id, name: p.name ?? p.id }))
        for (const p of people) names.set(p.id, p.name)
        transcript.push({ at, group: step.group, actor: step.by ?? people[0]?.id ?? '', kind: 'join', members: people.map((p) => p.id) })
        await rehearsal.join(step.group, people, step.by ?? (people[0] as { id: string }).id)
      } else if (step.leave) {
        transcript.push({ at, group: step.group, actor: step.by ?? (step.leave[0] as string), kind: 'leave', members: step.leave })
        await rehearsal.leave(step.group, step.leave, step.by)
      } else if (step.rename) {
        transcript.push({ at, group: step.group, actor: step.by ?? '', kind: 'rename', text: step.rename })
        await rehearsal.rename(step.group, step.rename, step.by ?? (script.groups.find((g) => g.id === step.group)?.members[0]?.id as string))
      } else {
        const type = (step.type ?? 'text') as (typeof SCRIPT_MESSAGE_TYPES)[number]
        const entry: TranscriptEntry = { at, group: step.group, actor: step.from as string, kind: 'message', type, text: step.say ?? step.title, mentions: step.mentions }
        transcript.push(entry)
        entry.messageId = await rehearsal.say(step.group, step.from as string, { type, text: step.say, title: step.title, url: step.url, mentions: step.mentions }, step.id)
      }
    }
    await rehearsal.quiesce()
    for (const a of rehearsal.actions.slice(firstAction)) {
      transcript.push({
        at: iso(a.at), group: plain(a.groupId ?? ''), actor: 'bot', kind: `bot.${a.kind}`,
        text: a.text, mentions: a.mentions?.length ? a.mentions : undefined, members: a.memberId ? [a.memberId] : undefined,
      })
    }
  } finally {
    await rehearsal.close()
  }
  // Stable sort: inputs come before the bot's actions at the same instant.
  transcript.sort((a, b) => a.at.localeCompare(b.at))
  const count = (kind: TranscriptEntry['kind']): number => transcript.filter((t) => t.kind === kind).length
  return {
    start: iso(start), end: iso(rehearsal.clock.now()), transcript,
    summary: { messages: count('message'), joins: count('join'), leaves: count('leave'), botMessages: count('bot.say'), removals: count('bot.remove'), tags: count('bot.tag') },
  }
}
