import { z } from 'zod'
import { Between, LessThan, type DataSource, type FindOptionsWhere } from 'typeorm'
import { ownerFor, type Principal } from '../../kernel/auth'
import type { GroupRecord, IncomingMessage, MessageType } from '../../kernel/context'
import { defineRoute, groupNotFound, HttpError, ownedNotFound, type RouteDefinition } from '../../kernel/routes'
import { addDays, localTime } from '../../kernel/time'
import type { Clock } from '../../ports/clock'
import { ruleProblems, type RuleStore } from '../../app/rules'
import { normalize } from '../../text/normalize'
import { detect } from './moderation.detect'
import { decide, exemption, type StrikeBook } from './moderation.enforce'
import { ModerationEventEntity, ModerationVersionEntity, WordListEntity } from './moderation.entity'
import { parseTerms, type WordLists } from './moderation.lists'
import { findQrCodes, isAllowlisted } from './moderation.qr'
import { ModerationRuleSchema, type ModerationRule } from './moderation.rules'
import { latestVersion } from './moderation.writer'

const GroupParams = z.strictObject({ id: z.string().min(1).max(191) })
const MemberParams = z.strictObject({ id: z.string().min(1).max(191), memberId: z.string().min(1).max(191) })
const ListParams = z.strictObject({ listId: z.coerce.number().int().positive().max(2 ** 31) })
const READ = { roles: ['admin', 'owner', 'operator'] as const, groupParam: 'id', mutates: false }
const WRITE = { roles: ['admin', 'owner'] as const, groupParam: 'id', mutates: true }
/** Uploaded word lists are owned by the token that uploaded them. */
const WORD_LIST = { kind: 'word list' }
/** Largest word list accepted in one upload (one term a line). */
const MAX_LIST_TERMS = 20_000

/** Every leaf path of a JSON value with its value (arrays compared whole). */
function leaves(value: unknown, path = ''): Map<string, string> {
  const out = new Map<string, string>()
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) for (const [p, x] of leaves(v, path ? `${path}.${k}` : k)) out.set(p, x)
  } else out.set(path, JSON.stringify(value))
  return out
}

/** The paths that differ between two rule sets, with both values. */
export function diffRules(a: unknown, b: unknown): Array<{ path: string; before: unknown; after: unknown }> {
  const la = leaves(a)
  const lb = leaves(b)
  const paths = [...new Set([...la.keys(), ...lb.keys()])].sort()
  return paths.filter((p) => la.get(p) !== lb.get(p)).map((p) => ({
    path: p, before: la.has(p) ? JSON.parse(la.get(p) as string) as unknown : null, after: lb.has(p) ? JSON.parse(lb.get(p) as string) as unknown : null,
  }))
}

/** Admin routes of moderation: versioned rules, word lists, dry-run, events, stats, strikes. */
export function moderationRoutes(deps: { db: DataSource; clock: Clock; rules: RuleStore; lists: WordLists; book: StrikeBook; findGroup: (id: string) => Promise<GroupRecord | null> }): RouteDefinition[] {
  const { db } = deps
  const group = async (id: string): Promise<GroupRecord> => {
    const found = await deps.findGroup(id)
    if (!found) throw groupNotFound()
    return found
  }
  const current = async (id: string): Promise<ModerationRule> => (await deps.rules.forGroup(id)).slice('moderation') as ModerationRule
  /** Saves through moderation's one write path (RuleStore.set → its writer: list checks, a new version). */
  const save = async (id: string, raw: unknown, auth: Principal | null, note: string | null): Promise<{ before: ModerationRule; version: number; rules: ModerationRule }> => {
    const saved = await deps.rules.set(id, 'moderation', raw, { by: auth, note }).catch((error: unknown) => { throw ruleProblems(error, 'body.rules', 'invalid moderation rules') })
    return { before: saved.before as ModerationRule, version: saved.version, rules: saved.value as ModerationRule }
  }

  return [
    defineRoute({
      method: 'GET', path: '/api/v1/groups/:id/moderation', summary: "A group's moderation rules and their version", params: GroupParams, access: READ,
      async handler({ params }) {
        await group(params.id)
        return { groupId: params.id, version: await latestVersion(db, params.id), rules: await current(params.id) }
      },
    }),
    defineRoute({
      method: 'PUT', path: '/api/v1/groups/:id/moderation', summary: 'Replace the rules (creates a new version)', params: GroupParams,
      body: z.strictObject({ rules: z.record(z.string(), z.unknown()), note: z.string().max(200).optional() }), access: WRITE, status: 200,
      async handler({ params, body, auth, audit }) {
        await group(params.id)
        const { before, ...saved } = await save(params.id, body.rules, auth, body.note ?? null)
        audit({ groupId: params.id, target: `moderation:v${saved.version}`, before, after: saved.rules })
        return { groupId: params.id, ...saved }
      },
    }),
    defineRoute({
      method: 'GET', path: '/api/v1/groups/:id/moderation/versions', summary: 'Every version (newest first)', params: GroupParams, access: READ,
      async handler({ params }) {
        await group(params.id)
        const rows = await db.getRepository(ModerationVersionEntity).find({ where: { groupId: params.id }, order: { version: 'DESC' }, take: 200 })
        return { items: rows.map((r) => ({ version: r.version, author: r.author, note: r.note, at: new Date(r.at).toISOString() })) }
      },
    }),
    defineRoute({
      method: 'GET', path: '/api/v1/groups/:id/moderation/diff', summary: 'What changed between two versions (0 = the defaults)', params: GroupParams,
      query: z.strictObject({ from: z.coerce.number().int().min(0), to: z.coerce.number().int().min(0) }), access: READ,
      async handler({ params, query }) {
        await group(params.id)
        const load = async (v: number): Promise<unknown> => {
          if (v === 0) return ModerationRuleSchema.parse({})
          const row = await db.getRepository(ModerationVersionEntity).findOneBy({ groupId: params.id, version: v })
          if (!row) throw new HttpError(404, 'not_found', `no version ${v}`)
          return row.rules
        }
        return { from: query.from, to: query.to, changes: diffRules(await load(query.from), await load(query.to)) }
      },
    }),
    defineRoute({
      method: 'POST', path: '/api/v1/groups/:id/moderation/rollback', summary: 'Make an earlier version live again (as a new version)', params: GroupParams,
      body: z.strictObject({ version: z.int().min(1) }), access: WRITE, status: 200,
      async handler({ params, body, auth, audit }) {
        await group(params.id)
        const row = await db.getRepository(ModerationVersionEntity).findOneBy({ groupId: params.id, version: body.version })
        if (!row) throw new HttpError(404, 'not_found', `no version ${body.version}`)
        const { before, ...saved } = await save(params.id, row.rules, auth, `rollback to v${body.version}`)
        audit({ groupId: params.id, target: `moderation:v${saved.version}`, before, after: saved.rules })
        return { groupId: params.id, ...saved }
      },
    }),
    defineRoute({
      method: 'POST', path: '/api/v1/groups/:id/moderation/dry-run', summary: 'What the rules would do with a message — without acting or counting a strike',
      params: GroupParams, status: 200,
      body: z.strictObject({
        text: z.string().max(5000).default(''),
        type: z.enum(['text', 'image', 'url', 'miniprogram', 'contact', 'file']).default('text'),
        url: z.string().max(2000).optional(),
        imageBase64: z.string().max(6_000_000).optional(),
        senderId: z.string().min(1).max(191).optional(),
        role: z.enum(['owner', 'admin', 'member']).default('member'),
        joinedAt: z.iso.datetime({ offset: true }).optional(),
        rules: z.record(z.string(), z.unknown()).optional(),
      }),
      access: { roles: ['admin', 'owner', 'operator'], groupParam: 'id', mutates: false },
      async handler({ params, body, auth }) {
        const g = await group(params.id)
        let rule = await current(params.id)
        if (body.rules) {
          // Try a draft before saving it: refused exactly as saving it would be (lists the caller may not use included).
          const draft = await deps.rules.validate(params.id, 'moderation', body.rules, { by: auth }).catch((error: unknown) => { throw ruleProblems(error, 'body.rules', 'invalid draft rules') })
          rule = draft.value as ModerationRule
        }
        const now = deps.clock.now()
        const image = body.imageBase64 ? Buffer.from(body.imageBase64, 'base64') : null
        const message: IncomingMessage = {
          id: 'dry-run', botId: 'dry-run', groupId: params.id, senderId: body.senderId ?? 'dry-run', senderName: 'dry-run', type: body.type as MessageType,
          text: body.text, mentions: [], mentionsBot: false, at: now, link: body.type === 'url' ? { url: body.url ?? '', title: body.text } : undefined,
        }
        const joinedAt = body.joinedAt ? Date.parse(body.joinedAt) : null
        const newcomer = joinedAt !== null && now - joinedAt < rule.newcomer.hours * 3_600_000
        const matcher = await deps.lists.matcher(rule.words, params.id)
        const { normalized, violations } = await detect(message, rule, {
          matcher, counters: { incr: async () => 0, get: async () => 0, reset: async () => {} },
          qrCodes: async () => (image ? findQrCodes(image) : []), qrAllowed: isAllowlisted,
        }, { countRepeats: false, newcomer })
        const exempt = exemption({ id: body.senderId ?? 'dry-run', role: body.role }, g, rule)
        const strikes = body.senderId ? await deps.book.strikes(params.id, body.senderId, rule.decayDays, now) : 0
        const decision = exempt ? { step: 'none' as const, strike: null } : decide(violations, strikes, rule)
        return {
          enabled: rule.enabled, normalized: normalize(body.text).text, normalizedForRules: normalized,
          matches: violations.map((v) => ({ detector: v.detector, matched: v.matched, listId: v.listId ?? null, span: v.span ?? null, original: v.span ? body.text.slice(v.span.start, v.span.end) : null, action: v.action, shadow: v.shadow })),
          exempt: exempt ?? null, currentStrikes: strikes,
          wouldDo: rule.enabled ? decision.step : 'none', strike: rule.enabled ? decision.strike : null,
          note: 'floods and duplicates are not counted in a dry run',
        }
      },
    }),
    defineRoute({
      method: 'GET', path: '/api/v1/groups/:id/moderation/events', summary: 'Violations and actions, newest first', params: GroupParams,
      query: z.strictObject({
        limit: z.coerce.number().int().min(1).max(100).default(50), cursor: z.coerce.number().int().positive().optional(),
        detector: z.enum(['words', 'regex', 'links', 'types', 'qr', 'flood', 'duplicates']).optional(), memberId: z.string().max(191).optional(),
        result: z.enum(['done', 'pending', 'failed', 'shadow', 'recorded', 'also', 'exempt']).optional(),
        since: z.iso.datetime({ offset: true }).optional(), until: z.iso.datetime({ offset: true }).optional(),
      }),
      access: READ,
      async handler({ params, query }) {
        await group(params.id)
        const where: FindOptionsWhere<ModerationEventEntity> = { groupId: params.id }
        if (query.detector) where.detector = query.detector
        if (query.memberId) where.memberId = query.memberId
        if (query.result) where.result = query.result
        if (query.cursor) where.id = LessThan(query.cursor)
        if (query.since || query.until) where.at = Between(query.since ? Date.parse(query.since) : 0, query.until ? Date.parse(query.until) : Number.MAX_SAFE_INTEGER)
        const rows = await db.getRepository(ModerationEventEntity).find({ where, order: { id: 'DESC' }, take: query.limit + 1 })
        const page = rows.slice(0, query.limit)
        return {
          items: page.map((r) => ({ id: r.id, at: new Date(r.at).toISOString(), memberId: r.memberId, messageId: r.messageId, detector: r.detector, matched: r.matched, listId: r.listId, action: r.action, strike: r.strike, result: r.result, reason: r.reason, shadow: r.shadow })),
          nextCursor: rows.length > query.limit ? String(page[page.length - 1]?.id) : null,
        }
      },
    }),
    defineRoute({
      method: 'GET', path: '/api/v1/groups/:id/moderation/stats', summary: 'Violations per rule (detector) per day, live and shadow', params: GroupParams,
      query: z.strictObject({ days: z.coerce.number().int().min(1).max(90).default(7) }), access: READ,
      async handler({ params, query }) {
        const g = await group(params.id)
        const to = localTime(deps.clock.now(), g.timezone).day
        const from = addDays(to, -(query.days - 1))
        const since = deps.clock.now() - (query.days + 1) * 86_400_000
        const rows = await db.getRepository(ModerationEventEntity).find({ select: { detector: true, at: true, shadow: true, action: true }, where: { groupId: params.id, at: Between(since, Number.MAX_SAFE_INTEGER) } })
        const counts = new Map<string, { day: string; detector: string; live: number; shadow: number; removals: number }>()
        for (const r of rows) {
          const day = localTime(r.at, g.timezone).day
          if (day < from || day > to) continue
          const key = `${day}|${r.detector}`
          const c = counts.get(key) ?? { day, detector: r.detector, live: 0, shadow: 0, removals: 0 }
          if (r.shadow) c.shadow++
          else c.live++
          if (r.action === 'remove') c.removals++
          counts.set(key, c)
        }
        return { groupId: params.id, from, to, items: [...counts.values()].sort((a, b) => a.day.localeCompare(b.day) || a.detector.localeCompare(b.detector)) }
      },
    }),
    defineRoute({
      method: 'GET', path: '/api/v1/groups/:id/moderation/members/:memberId', summary: "A member's live strikes and history", params: MemberParams, access: READ,
      async handler({ params }) {
        await group(params.id)
        const rule = await current(params.id)
        const strikes = await deps.book.strikes(params.id, params.memberId, rule.decayDays, deps.clock.now())
        const history = await db.getRepository(ModerationEventEntity).find({ where: { groupId: params.id, memberId: params.memberId }, order: { id: 'DESC' }, take: 100 })
        return {
          groupId: params.id, memberId: params.memberId, strikes, ladder: rule.ladder, decayDays: rule.decayDays,
          history: history.map((r) => ({ at: new Date(r.at).toISOString(), detector: r.detector, matched: r.matched, action: r.action, strike: r.strike, result: r.result, shadow: r.shadow })),
        }
      },
    }),
    defineRoute({
      method: 'POST', path: '/api/v1/groups/:id/moderation/members/:memberId/reset', summary: "Reset a member's strikes (history stays)", params: MemberParams,
      access: WRITE, status: 200,
      async handler({ params, audit }) {
        await group(params.id)
        const rule = await current(params.id)
        const before = await deps.book.strikes(params.id, params.memberId, rule.decayDays, deps.clock.now())
        await deps.book.reset(params.id, params.memberId, deps.clock.now())
        audit({ groupId: params.id, target: `member:${params.memberId}`, before: { strikes: before }, after: { strikes: 0 } })
        return { groupId: params.id, memberId: params.memberId, strikes: 0 }
      },
    }),
    defineRoute({
      method: 'GET', path: '/api/v1/word-lists', summary: 'Word lists: files under rules/words and the uploaded lists you own (admins: all)',
      access: { roles: ['admin', 'owner', 'operator'], mutates: false, owned: WORD_LIST },
      async handler({ auth }) { return { items: await deps.lists.visible(auth) } },
    }),
    defineRoute({
      method: 'POST', path: '/api/v1/word-lists', summary: 'Create a word list from text (one term a line)',
      body: z.strictObject({ name: z.string().trim().min(1).max(100), text: z.string().max(1_000_000) }), access: { roles: ['admin', 'owner'], mutates: true },
      async handler({ body, auth, audit }) {
        const terms = parseTerms(body.text)
        if (terms.length > MAX_LIST_TERMS) throw new HttpError(400, 'invalid_input', `at most ${MAX_LIST_TERMS} terms`, [{ path: 'body.text', message: 'too many terms' }])
        const long = terms.findIndex((t) => t.length > 100)
        if (long >= 0) throw new HttpError(400, 'invalid_input', 'a term is longer than 100 characters', [{ path: 'body.text', message: `line ${long + 1}` }])
        const inserted = await db.getRepository(WordListEntity).insert({ name: body.name, terms: terms.join('\n'), termCount: terms.length, ownerTokenId: ownerFor(auth), updatedAt: deps.clock.now() })
        const id = `list:${Number(inserted.identifiers[0]?.id)}`
        audit({ target: id, after: { name: body.name, terms: terms.length } })
        return { id, name: body.name, terms: terms.length }
      },
    }),
    defineRoute({
      method: 'PUT', path: '/api/v1/word-lists/:listId', summary: "Replace a list's terms (text, one term a line)", params: ListParams,
      body: z.strictObject({ text: z.string().max(1_000_000) }), access: { roles: ['admin', 'owner'], mutates: true, owned: { ...WORD_LIST, param: 'listId' } },
      findOwned: ({ listId }: z.infer<typeof ListParams>) => db.getRepository(WordListEntity).findOne({ select: { ownerTokenId: true }, where: { id: listId } }),
      async handler({ params, body, audit }) {
        const row = await db.getRepository(WordListEntity).findOneBy({ id: params.listId })
        if (!row) throw ownedNotFound(WORD_LIST.kind)
        const terms = parseTerms(body.text)
        if (terms.length > MAX_LIST_TERMS) throw new HttpError(400, 'invalid_input', `at most ${MAX_LIST_TERMS} terms`, [{ path: 'body.text', message: 'too many terms' }])
        // updatedAt changes, so every replica rebuilds this list's automaton on next use.
        await db.getRepository(WordListEntity).update({ id: row.id }, { terms: terms.join('\n'), termCount: terms.length, updatedAt: Math.max(deps.clock.now(), row.updatedAt + 1) })
        audit({ target: `list:${row.id}`, before: { terms: row.termCount }, after: { terms: terms.length } })
        return { id: `list:${row.id}`, name: row.name, terms: terms.length }
      },
    }),
    defineRoute({
      method: 'PUT', path: '/api/v1/groups/:id/moderation/word-lists', summary: 'Attach word lists to a group (a new rules version)', params: GroupParams,
      body: z.strictObject({ lists: z.array(z.string()).max(20) }), access: WRITE, status: 200,
      async handler({ params, body, auth, audit }) {
        await group(params.id)
        const before = await current(params.id)
        const { before: _before, ...saved } = await save(params.id, { ...before, words: { ...before.words, lists: body.lists } }, auth, 'attach word lists')
        audit({ groupId: params.id, target: `moderation:v${saved.version}`, before: { lists: before.words.lists }, after: { lists: body.lists } })
        return { groupId: params.id, ...saved }
      },
    }),
  ]
}
