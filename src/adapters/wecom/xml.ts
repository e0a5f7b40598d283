/**
 * The XML WeCom sends is flat: `<xml>` holding simple elements (text or CDATA), sometimes one level of
 * list (`<MemChangeList><Item>…</Item></MemChangeList>`). This reads exactly that and nothing more: no
 * DOCTYPE, no entities beyond the five predefined ones, no attributes — so nothing can expand or fetch.
 */

/** One element's value: its text, or the texts of its child `Item`s. */
export type XmlValue = string | string[]

/** Why a body is not the XML WeCom sends. */
export class XmlError extends Error {}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" }

function text(raw: string): string {
  const cdata = /^\s*<!\[CDATA\[([\s\S]*?)\]\]>\s*$/.exec(raw)
  if (cdata) return cdata[1] as string
  if (raw.includes('<')) throw new XmlError('unexpected markup in a text element')
  return raw.replace(/&(lt|gt|amp|quot|apos);/g, (_m, name: string) => ENTITIES[name] as string).trim()
}

/** Parses `<xml>…</xml>` into element name → value (later duplicates of a name are ignored). */
export function parseFlatXml(body: string): Record<string, XmlValue> {
  if (body.length > 1_000_000) throw new XmlError('XML body too large')
  if (/<!DOCTYPE|<!ENTITY/i.test(body)) throw new XmlError('DOCTYPE is not accepted')
  const root = /^\s*(?:<\?xml[^>]*\?>\s*)?<xml>([\s\S]*)<\/xml>\s*$/.exec(body)
  if (!root) throw new XmlError('not a WeCom XML body')
  const out: Record<string, XmlValue> = {}
  const element = /<([A-Za-z][A-Za-z0-9_]*)>((?:<!\[CDATA\[[\s\S]*?\]\]>|[^<]|<(?!\/\1>))*?)<\/\1>/g
  const inner = root[1] as string
  let match: RegExpExecArray | null
  let consumed = 0
  while ((match = element.exec(inner)) !== null) {
    if (inner.slice(consumed, match.index).trim() !== '') throw new XmlError('stray text between elements')
    consumed = match.index + match[0].length
    const [, name, content] = match as unknown as [string, string, string]
    if (name in out) continue
    if (/^\s*<Item>/.test(content)) {
      const items: string[] = []
      const item = /<Item>((?:<!\[CDATA\[[\s\S]*?\]\]>|[^<])*)<\/Item>/g
      let m: RegExpExecArray | null
      while ((m = item.exec(content)) !== null) items.push(text(m[1] as string))
      out[name] = items
    } else out[name] = text(content)
  }
  if (inner.slice(consumed).trim() !== '') throw new XmlError('unterminated element')
  return out
}

/** A string field of a parsed body ('' when absent or a list). */
export function field(xml: Record<string, XmlValue>, name: string): string {
  const value = xml[name]
  return typeof value === 'string' ? value : ''
}

/** A list field (`<X><Item>…</Item></X>`); a single text value counts as a one-item list. */
export function list(xml: Record<string, XmlValue>, name: string): string[] {
  const value = xml[name]
  if (value === undefined || value === '') return []
  return typeof value === 'string' ? [value] : value
}

/** Wraps text in CDATA (for the fake server and tests that build callbacks). */
export function cdata(value: string): string {
  return `<![CDATA[${value.replace(/\]\]>/g, ']]]]><![CDATA[>')}]]>`
}
