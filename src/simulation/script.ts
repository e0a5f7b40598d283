import { parse as parseYaml } from 'yaml'
import { z } from 'zod'
import type { Config } from '../config/config.schema'
import type { Logger } from '../kernel/logger'
import { roomId } from '../adapters/wechaty/sim-world'
import { FEATURES } from '../features'
import { Rehearsal, SCRIPT_MESSAGE_TYPES } from './rehearsal'

/** A script that does not parse or does not make sense; the message lists every problem. */
export class ScriptError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.length === 1 ? (problems[0] as string) : `\n${problems.map((p) => `  - ${p}`).join('\n')}`)
    this.name = 'ScriptError'
  }
}

/** An ISO time with zone. */
const ISO = /^\d{4}-\d{2}-\d{2}T[\d:.]+(Z|[+-]\d{2}:\d{2})$/
/** A step's time: an offset from the start or an ISO time with zone. */
const TIME = /^(\+\d+(\.\d+)?(ms|s|m|h|d)|\d{4}-\d{2}-\d{2}T[\d:.]+(Z|[+-]\d{2}:\d{2}))$/
const Time = z.string().regex(TIME, 'use an offset like +90s, +5m, +2h, +1d or an ISO time with zone')
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
  start: z.string().regex(ISO, 'ISO time with zone, e.g. 2026-11-23T09:00:00+08:00').optional(),
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
  kind: 'message' | 'join' | 'leave' | 'rename' | 'bot.say' | 'bot.remove' | 'bot.add' | 'bot.tag' | 'bot.untag' | 'bot.acceptInvitation'
  text?: string
  type?: string
  /** A link card's or image's address. */
  url?: string
  tag?: string
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

/** Feature rule schemas by name, for checking a script's rule overrides before anything runs. */
const RULE_SCHEMAS = new Map(FEATURES.flatMap((f) => (f.rules ? [[f.name, f.rules] as const] : [])))

/** Orders problems by their place in the script (numbers as numbers), so they read top to bottom. */
function byPlace(a: string, b: string): number {
  const pa = (a.split(': ')[0] ?? '').split('.')
  const pb = (b.split(': ')[0] ?? '').split('.')
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i] as string
    const y = pb[i] as string
    if (x === y) continue
    const nx = Number(x)
    const ny = Number(y)
    if (Number.isInteger(nx) && Number.isInteger(ny)) return nx - ny
    return x < y ? -1 : 1
  }
  return pa.length - pb.length
}

const asObject = (v: unknown): Record<string, unknown> => (v !== null && typeof v === 'object' && !Array.isArray(v) ? v as Record<string, unknown> : {})
const asList = (v: unknown): unknown[] => (Array.isArray(v) ? v : [])
const asString = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined)

/**
 * Checks what the schema cannot: references to groups and members (who is in a group at each point of
 * the timeline), time order, and rule overrides against the features' own schemas. Works on the raw
 * document, skipping parts that are malformed (the schema reports those), so one run lists every problem.
 */
function logicProblems(raw: unknown, now: number): string[] {
  const root = asObject(raw)
  const problems: string[] = []
  const groups = new Map<string, Set<string>>()
  asList(root.groups).forEach((g, gi) => {
    const id = asString(asObject(g).id)
    if (id === undefined) return
    if (groups.has(id)) problems.push(`groups.${gi}.id: "${id}" is used by another group`)
    const members = new Set<string>()
    asList(asObject(g).members).forEach((m, mi) => {
      const memberId = asString(asObject(m).id)
      if (memberId === undefined) return
      if (members.has(memberId)) problems.push(`groups.${gi}.members.${mi}.id: "${memberId}" is listed twice`)
      members.add(memberId)
    })
    groups.set(id, members)
  })

  for (const [groupId, slices] of Object.entries(asObject(root.rules))) {
    if (!groups.has(groupId)) problems.push(`rules.${groupId}: no group "${groupId}" in groups`)
    for (const [feature, value] of Object.entries(asObject(slices))) {
      const schema = RULE_SCHEMAS.get(feature)
      if (!schema) { problems.push(`rules.${groupId}.${feature}: no feature "${feature}" (one of ${[...RULE_SCHEMAS.keys()].join(', ')})`); continue }
      const parsed = schema.schema.safeParse(value)
      if (!parsed.success) for (const i of parsed.error.issues) problems.push(`${['rules', groupId, feature, ...i.path].join('.')}: ${i.message}`)
    }
  }

  const startText = asString(root.start)
  const start = startText !== undefined && ISO.test(startText) ? Date.parse(startText) : now
  let last = Number.NEGATIVE_INFINITY
  asList(root.timeline).forEach((item, i) => {
    const step = asObject(item)
    const where = `timeline.${i}`
    const group = asString(step.group)
    const members = group === undefined ? undefined : groups.get(group)
    if (group !== undefined && !members) problems.push(`${where}.group: no group "${group}" in groups`)
    const says = step.say !== undefined || step.type !== undefined
    const actions = [says, step.join !== undefined, step.leave !== undefined, step.rename !== undefined].filter(Boolean).length
    if (actions !== 1) problems.push(`${where}: give exactly one of say (or type), join, leave, rename`)
    const from = asString(step.from)
    if (says && from === undefined) problems.push(`${where}.from: who says it?`)
    if (members) {
      const inGroup = (field: string, id: string | undefined, what = 'a member of'): void => {
        if (id !== undefined && !members.has(id)) problems.push(`${where}.${field}: "${id}" is not ${what} "${group}" at this point`)
      }
      inGroup('from', from)
      for (const m of asList(step.mentions)) inGroup('mentions', asString(m))
      // Whoever invites, removes or renames must be in the group (a member leaving on their own needs no "by").
      inGroup('by', asString(step.by))
      for (const p of asList(step.join)) {
        const id = asString(p) ?? asString(asObject(p).id)
        if (id === undefined) continue
        if (members.has(id)) problems.push(`${where}.join: "${id}" is already in "${group}"`)
        members.add(id)
      }
      for (const l of asList(step.leave)) {
        const id = asString(l)
        if (id === undefined) continue
        if (!members.has(id)) problems.push(`${where}.leave: "${id}" is not in "${group}"`)
        members.delete(id)
      }
    }
    const atText = asString(step.at)
    if (atText === undefined || !TIME.test(atText)) return
    const at = instant(atText, start)
    if (at < start) problems.push(`${where}.at: before the script's start (${new Date(start).toISOString()})`)
    if (at < last) problems.push(`${where}.at: time goes backwards (steps must be in time order)`)
    last = Math.max(last, at)
  })
  return problems
}

/**
 * Parses and checks a script, listing every problem at once: format (the schema) and logic (unknown
 * groups or members, time order, rule overrides) together. `now` is the start when the script gives none.
 */
export function parseScript(text: string, now = Date.now()): Script {
  let raw: unknown
  try { raw = parseYaml(text) } catch (error) { throw new ScriptError([`not valid YAML: ${(error as Error).message}`]) }
  const parsed = ScriptSchema.safeParse(raw)
  const problems = parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
  problems.push(...logicProblems(raw, now))
  if (problems.length > 0 || !parsed.success) throw new ScriptError(problems.sort(byPlace))
  return parsed.data
}

/**
 * Plays a script through the real runtime on the mock puppet with a fake clock and an in-memory database.
 * Inputs happen exactly at their scripted times; the bot's actions at the times throttling lets them go
 * out; the run ends when nothing is left to happen (answers held in batch windows included).
 */
export async function runScript(text: string, opts: { config: Config; log: Logger; now?: number }): Promise<{ start: string; end: string; transcript: TranscriptEntry[]; summary: Record<string, number> }> {
  const now = opts.now ?? Date.now()
  const script = parseScript(text, now)
  const start = script.start ? Date.parse(script.start) : now
  const names = new Map<string, string>()
  for (const g of script.groups) for (const m of g.members) names.set(m.id, m.name ?? m.id)
  const rehearsal = await Rehearsal.start({
    config: opts.config, log: opts.log, start, seed: script.seed, rules: script.rules, drainAfterSteps: false,
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
      const time = instant(step.at, start)
      await rehearsal.advanceTo(time)
      const at = iso(time)
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
        const entry: TranscriptEntry = { at, group: step.group, actor: step.from as string, kind: 'message', type, text: step.say ?? step.title, url: step.url, mentions: step.mentions }
        transcript.push(entry)
        entry.messageId = await rehearsal.say(step.group, step.from as string, { type, text: step.say, title: step.title, url: step.url, mentions: step.mentions }, step.id)
      }
    }
    // Answers still held (a batch window, a welcome window) or throttled go out before the transcript is read.
    await rehearsal.finish()
    for (const a of rehearsal.actions.slice(firstAction)) {
      transcript.push({
        at: iso(a.at), group: plain(a.groupId ?? ''), actor: 'bot', kind: `bot.${a.kind}`,
        type: a.card ? 'url' : a.image ? 'image' : undefined, text: a.text ?? a.card?.title, url: a.card?.url ?? a.image, tag: a.tag,
        mentions: a.mentions?.length ? a.mentions : undefined, members: a.memberId ? [a.memberId] : undefined,
      })
    }
  } finally {
    await rehearsal.close()
  }
  // Stable sort: inputs come before the bot's actions at the same instant.
  transcript.sort((a, b) => a.at.localeCompare(b.at))
  const count = (kind: TranscriptEntry['kind']): number => transcript.filter((t) => t.kind === kind).length
  return {
    // The end is the last thing that happened (windows that closed with nothing to send are not events).
    start: iso(start), end: transcript[transcript.length - 1]?.at ?? iso(start), transcript,
    summary: { messages: count('message'), joins: count('join'), leaves: count('leave'), botMessages: count('bot.say'), removals: count('bot.remove'), tags: count('bot.tag') },
  }
}
