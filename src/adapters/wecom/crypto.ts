import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from 'node:crypto'

/**
 * WeCom's callback message encryption ("加解密方案"), done here in full because the common helper
 * libraries decrypt without checking the signature or the receive id:
 *
 * - signature = SHA-1 hex of the four strings token, timestamp, nonce, ciphertext sorted and joined;
 * - key = base64(EncodingAESKey + '=') (43 characters → 32 bytes), AES-256-CBC, IV = the key's first 16 bytes;
 * - plaintext = 16 random bytes ‖ message length (4 bytes, big endian) ‖ message ‖ receive id (the corp id),
 *   padded with PKCS#7 to a multiple of 32 bytes (not AES's 16).
 */

/** Why a callback was refused (logged, never with the payload). */
export class CallbackRejected extends Error {
  constructor(readonly reason: 'signature' | 'decrypt' | 'padding' | 'length' | 'receive_id' | 'timestamp' | 'replay' | 'malformed', message: string) {
    super(message)
    this.name = 'CallbackRejected'
  }
}

/** The 32-byte AES key from an EncodingAESKey (43 base64 characters). */
export function aesKeyOf(encodingAesKey: string): Buffer {
  if (!/^[A-Za-z0-9+/]{43}$/.test(encodingAesKey)) throw new Error('EncodingAESKey must be 43 base64 characters')
  const key = Buffer.from(`${encodingAesKey}=`, 'base64')
  if (key.length !== 32) throw new Error('EncodingAESKey does not decode to 32 bytes')
  return key
}

/** WeCom's signature over token, timestamp, nonce and the encrypted text. */
export function signature(token: string, timestamp: string, nonce: string, encrypted: string): string {
  return createHash('sha1').update([token, timestamp, nonce, encrypted].sort().join('')).digest('hex')
}

/** Constant-time comparison of a received signature with the expected one. */
export function signatureMatches(expected: string, received: string): boolean {
  const a = Buffer.from(expected, 'utf8')
  const b = Buffer.from(received.toLowerCase(), 'utf8')
  return a.length === b.length && timingSafeEqual(a, b)
}

/** WeCom pads to 32-byte blocks. */
const BLOCK = 32

/** Decrypts a callback's ciphertext and checks padding, length and receive id; returns the message. */
export function decryptMessage(key: Buffer, encrypted: string, receiveId: string): string {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encrypted)) throw new CallbackRejected('malformed', 'ciphertext is not base64')
  const data = Buffer.from(encrypted, 'base64')
  if (data.length === 0 || data.length % 16 !== 0) throw new CallbackRejected('decrypt', 'ciphertext is not a whole number of AES blocks')
  let plain: Buffer
  try {
    const decipher = createDecipheriv('aes-256-cbc', key, key.subarray(0, 16))
    decipher.setAutoPadding(false)
    plain = Buffer.concat([decipher.update(data), decipher.final()])
  } catch {
    throw new CallbackRejected('decrypt', 'ciphertext does not decrypt')
  }
  const pad = plain[plain.length - 1] ?? 0
  if (pad < 1 || pad > BLOCK || pad > plain.length) throw new CallbackRejected('padding', 'bad PKCS#7 padding')
  for (let i = plain.length - pad; i < plain.length; i++) if (plain[i] !== pad) throw new CallbackRejected('padding', 'bad PKCS#7 padding')
  const body = plain.subarray(0, plain.length - pad)
  if (body.length < 20) throw new CallbackRejected('length', 'plaintext too short')
  const length = body.readUInt32BE(16)
  if (20 + length > body.length) throw new CallbackRejected('length', 'message length exceeds the plaintext')
  const message = body.subarray(20, 20 + length).toString('utf8')
  const id = body.subarray(20 + length).toString('utf8')
  if (id !== receiveId) throw new CallbackRejected('receive_id', 'receive id does not match the corp id')
  return message
}

/** Encrypts a message the way WeCom does (for replies, the fake server and tests). */
export function encryptMessage(key: Buffer, message: string, receiveId: string, random: Buffer = randomBytes(16)): string {
  if (random.length !== 16) throw new Error('random prefix must be 16 bytes')
  const text = Buffer.from(message, 'utf8')
  const length = Buffer.alloc(4)
  length.writeUInt32BE(text.length, 0)
  const body = Buffer.concat([random, length, text, Buffer.from(receiveId, 'utf8')])
  const pad = BLOCK - (body.length % BLOCK)
  const cipher = createCipheriv('aes-256-cbc', key, key.subarray(0, 16))
  cipher.setAutoPadding(false)
  return Buffer.concat([cipher.update(Buffer.concat([body, Buffer.alloc(pad, pad)])), cipher.final()]).toString('base64')
}
