import { createHash, randomBytes } from 'node:crypto'

/** Prefix of every qunyun API token. */
export const TOKEN_PREFIX = 'qy_'
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
const BODY_LENGTH = 32
const CHECK_LENGTH = 6

/** CRC-32 (IEEE) of a string's UTF-8 bytes. */
function crc32(text: string): number {
  let crc = 0xffffffff
  for (const byte of Buffer.from(text, 'utf8')) {
    crc ^= byte
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1))
  }
  return (crc ^ 0xffffffff) >>> 0
}

function base62(value: number, width: number): string {
  let out = ''
  let v = value
  for (let i = 0; i < width; i++) {
    out = ALPHABET[v % 62] + out
    v = Math.floor(v / 62)
  }
  return out
}

/**
 * A new token: `qy_` + 32 random base62 characters (~190 bits) + a 6-character CRC-32 checksum, so a
 * mistyped or truncated token is refused without touching the database.
 */
export function generateToken(): string {
  const bytes = randomBytes(BODY_LENGTH)
  let body = ''
  // Rejection sampling keeps every character uniform (248 = 4 × 62).
  for (let i = 0; body.length < BODY_LENGTH; i++) {
    const b = i < bytes.length ? (bytes[i] as number) : (randomBytes(1)[0] as number)
    if (b < 248) body += ALPHABET[b % 62]
  }
  return `${TOKEN_PREFIX}${body}${base62(crc32(body), CHECK_LENGTH)}`
}

/** Whether a string has the shape and checksum of a qunyun token. */
export function isWellFormedToken(token: string): boolean {
  if (token.length !== TOKEN_PREFIX.length + BODY_LENGTH + CHECK_LENGTH || !token.startsWith(TOKEN_PREFIX)) return false
  const body = token.slice(TOKEN_PREFIX.length, TOKEN_PREFIX.length + BODY_LENGTH)
  const check = token.slice(TOKEN_PREFIX.length + BODY_LENGTH)
  for (const c of body) if (!ALPHABET.includes(c)) return false
  return base62(crc32(body), CHECK_LENGTH) === check
}

/** The stored form of a token: SHA-256 hex (tokens are random, so a fast hash is enough; no salt needed). */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex')
}

/** The part of a token safe to show in lists and logs ("qy_AbCd…"). */
export function tokenHint(token: string): string {
  return `${token.slice(0, TOKEN_PREFIX.length + 4)}…`
}
