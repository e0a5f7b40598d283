import { createHash } from 'node:crypto'
import { RE2Set } from 're2js'
import type { IncomingMessage } from '../../kernel/context'
import type { Counters } from '../../ports/ports'
import { normalize } from '../../text/normalize'
import type { TextMatcher } from '../../text/matcher'
import type { DetectorName, ModerationAction, ModerationRule } from './moderation.rules'

/** One rule that a message breaks. */
export interface Violation {
  detector: DetectorName
  /** What matched: term, pattern name, domain, type, QR content or a count. */
  matched: string
  listId?: string
  /** Span in the original text, when there is one. */
  span?: { start: number; end: number }
  action: ModerationAction
  shadow: boolean
}

/** What detection needs besides the message and the rules. */
export interface DetectDeps {
  matcher: TextMatcher
  counters: Counters
  /** QR contents found in an image message (empty when none, or not an image). */
  qrCodes: () => Promise<string[]>
  /** Whether a QR content is allowlisted. */
  qrAllowed: (content: string, allow: readonly string[]) => boolean
}

/** Options of one detection run. */
export interface DetectOptions {
  /** Dry runs must not count floods or duplicates. */
  countRepeats: boolean
  /** The sender joined less than `newcomer.hours` ago. */
  newcomer: boolean
  /** The message text normalized once for every feature (the context's), when there is one. */
  normalized?: () => string
}

const regexSets = new WeakMap<ModerationRule['regex'], RE2Set>()

function regexSet(rule: ModerationRule['regex']): RE2Set | null {
  if (rule.patterns.length === 0) return null
  let set = regexSets.get(rule)
  if (!set) {
    set = new RE2Set(RE2Set.UNANCHORED)
    for (const p of rule.patterns) set.add(p.pattern)
    set.compile()
    regexSets.set(rule, set)
  }
  return set
}

// Links written the way adverts write them: schemes, www., or a bare domain on a common TLD.
const LINK = /\b(?:https?:\/\/|www\.)[^\s<>"'，。！？、]+|\b(?:[a-z0-9-]+\.)+(?:com|cn|net|org|top|xyz|vip|cc|io|me|info|site|shop|club|link|tv|co|app|ink|wang|ltd)(?::\d+)?(?:\/[^\s<>"'，。！？、]*)?/gi

/** Hosts of the links in a text (lower case, without port), with their spans. */
export function findLinks(text: string): Array<{ host: string; start: number; end: number }> {
  const out: Array<{ host: string; start: number; end: number }> = []
  for (const m of text.matchAll(LINK)) {
    const raw = m[0]
    const withScheme = /^https?:\/\//i.test(raw) ? raw : `http://${raw}`
    let host: string
    try { host = new URL(withScheme).hostname.toLowerCase() } catch { continue }
    out.push({ host, start: m.index ?? 0, end: (m.index ?? 0) + raw.length })
  }
  return out
}

/** Whether a host is one of the allowed domains or below one. */
export function hostAllowed(host: string, allow: readonly string[]): boolean {
  return allow.some((d) => {
    const domain = d.replace(/^\*\./, '')
    return host === domain || host.endsWith(`.${domain}`)
  })
}

function effective(detector: { action: ModerationAction; newcomerAction?: ModerationAction; shadow: boolean }, newcomer: boolean): { action: ModerationAction; shadow: boolean } {
  return { action: newcomer && detector.newcomerAction ? detector.newcomerAction : detector.action, shadow: detector.shadow }
}

/**
 * Runs every enabled detector over a message and returns the violations, most specific first. Flood and
 * duplicate detection count through the coordination port, so they work across replicas.
 */
export async function detect(message: IncomingMessage, rule: ModerationRule, deps: DetectDeps, opts: DetectOptions): Promise<{ normalized: string; violations: Violation[] }> {
  const violations: Violation[] = []
  const text = message.type === 'url' ? `${message.link?.title ?? message.text} ${message.link?.url ?? ''}` : message.text
  // A text message's normalized text may come from the context (computed once per message).
  const normalized = !text ? '' : opts.normalized && text === message.text ? opts.normalized() : normalize(text).text

  const types = rule.types
  if (types.enabled) {
    const forbidden = (message.type === 'miniprogram' && !types.miniprogram) || (message.type === 'contact' && !types.contact)
      || (message.type === 'url' && !types.url) || (message.type === 'file' && !types.file)
    if (forbidden) violations.push({ detector: 'types', matched: message.type, ...effective(types, opts.newcomer) })
  }

  if (rule.words.enabled && text) {
    for (const m of deps.matcher.scan(text)) {
      violations.push({ detector: 'words', matched: m.term, listId: m.listId, span: { start: m.start, end: m.end }, ...effective(rule.words, opts.newcomer) })
    }
  }

  if (rule.regex.enabled && normalized) {
    const set = regexSet(rule.regex)
    // Owner patterns run on the normalized text (noise removed), like word lists.
    if (set) for (const i of set.match(normalized)) violations.push({ detector: 'regex', matched: rule.regex.patterns[i]?.name ?? String(i), ...effective(rule.regex, opts.newcomer) })
  }

  if (rule.links.enabled && text) {
    for (const link of findLinks(text)) {
      if (!hostAllowed(link.host, rule.links.allowDomains)) violations.push({ detector: 'links', matched: link.host, span: { start: link.start, end: link.end }, ...effective(rule.links, opts.newcomer) })
    }
  }

  if (rule.qr.enabled && message.type === 'image') {
    for (const content of await deps.qrCodes()) {
      if (!deps.qrAllowed(content, rule.qr.allow)) violations.push({ detector: 'qr', matched: content.slice(0, 200), ...effective(rule.qr, opts.newcomer) })
    }
  }

  const d = rule.duplicates
  if (d.enabled && opts.countRepeats && normalized.length >= d.minChars) {
    const hash = createHash('sha1').update(normalized).digest('hex').slice(0, 20)
    const mine = await deps.counters.incr(`mod:dm:${message.groupId}:${message.senderId}:${hash}`, d.memberMinutes * 60_000)
    if (mine > d.memberTimes) violations.push({ detector: 'duplicates', matched: `${mine}×`, ...effective(d, opts.newcomer) })
    // Distinct groups: count a group the first time the text appears in it.
    const firstHere = (await deps.counters.incr(`mod:dg:${hash}:${message.groupId}`, d.crossMinutes * 60_000)) === 1
    const groups = firstHere ? await deps.counters.incr(`mod:dx:${hash}`, d.crossMinutes * 60_000) : await deps.counters.get(`mod:dx:${hash}`)
    if (groups >= d.groups && mine <= d.memberTimes) violations.push({ detector: 'duplicates', matched: `${groups} groups`, ...effective(d, opts.newcomer) })
  }

  const f = rule.flood
  if (f.enabled && opts.countRepeats) {
    const count = await deps.counters.incr(`mod:fl:${message.groupId}:${message.senderId}`, f.seconds * 1000)
    // Once per window: the message that crosses the line, not every one after it.
    if (count === f.messages + 1) violations.push({ detector: 'flood', matched: `${count} in ${f.seconds}s`, ...effective(f, opts.newcomer) })
  }

  return { normalized, violations }
}
