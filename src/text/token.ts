/**
 * Whether `text` contains `needle` as a whole token: an edge of the needle that is a letter, digit or
 * `_` must not touch another such character (so the id `m1` is not found inside `m10`). CJK text has no
 * word boundaries and is matched anywhere.
 */
export function containsToken(text: string, needle: string): boolean {
  if (needle === '') return false
  const word = /[A-Za-z0-9_]/
  const checkStart = word.test(needle[0] as string)
  const checkEnd = word.test(needle[needle.length - 1] as string)
  for (let i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + 1)) {
    const before = i > 0 ? text[i - 1] as string : ''
    const after = text[i + needle.length] ?? ''
    if ((!checkStart || !word.test(before)) && (!checkEnd || !word.test(after))) return true
  }
  return false
}

/** Replaces every whole-token occurrence of `needle` (see `containsToken`) in `text`. */
export function replaceToken(text: string, needle: string, by: string): string {
  if (needle === '' || !text.includes(needle)) return text
  const word = /[A-Za-z0-9_]/
  const checkStart = word.test(needle[0] as string)
  const checkEnd = word.test(needle[needle.length - 1] as string)
  let out = ''
  let from = 0
  for (let i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + needle.length)) {
    const before = i > 0 ? text[i - 1] as string : ''
    const after = text[i + needle.length] ?? ''
    if ((checkStart && word.test(before)) || (checkEnd && word.test(after))) continue
    out += text.slice(from, i) + by
    from = i + needle.length
  }
  return out + text.slice(from)
}
