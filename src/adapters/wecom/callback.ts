import type { Dedupe } from '../../ports/ports'
import type { Clock } from '../../ports/clock'
import { CallbackRejected, decryptMessage, signature, signatureMatches } from './crypto'
import { field, parseFlatXml, XmlError, type XmlValue } from './xml'

/** The query WeCom puts on a callback URL. */
export interface CallbackQuery {
  msg_signature?: string
  timestamp?: string
  nonce?: string
  echostr?: string
}

/** A bot's callback secrets. */
export interface CallbackSecrets {
  /** The callback Token set in the app's "receive messages" settings. */
  token: string
  /** The 32-byte key from the EncodingAESKey. */
  aesKey: Buffer
  /** The corp id: the receive id every message must carry. */
  corpId: string
}

/**
 * Verifies callbacks: signature (constant time), timestamp within the window, nonce not seen before
 * (through the Dedupe port, so the check holds across replicas), decryption with padding and receive id
 * checks. Checks run in that order, so nothing unsigned is decrypted and no nonce is spent by a forgery.
 */
export class CallbackVerifier {
  constructor(private readonly deps: {
    botId: string
    secrets: CallbackSecrets
    clock: Clock
    nonces: Dedupe
    /** How far a callback's timestamp may be from now, in seconds. */
    windowSeconds: number
  }) {}

  /** GET URL verification: returns the decrypted echostr (the answer WeCom expects). */
  async verifyUrl(query: CallbackQuery): Promise<string> {
    const echostr = query.echostr ?? ''
    if (!echostr) throw new CallbackRejected('malformed', 'echostr missing')
    return this.open(query, echostr)
  }

  /** POST event: returns the decrypted message, parsed. */
  async verifyEvent(query: CallbackQuery, body: string): Promise<Record<string, XmlValue>> {
    let envelope: Record<string, XmlValue>
    try { envelope = parseFlatXml(body) } catch (error) {
      if (error instanceof XmlError) throw new CallbackRejected('malformed', error.message)
      throw error
    }
    const encrypted = field(envelope, 'Encrypt')
    if (!encrypted) throw new CallbackRejected('malformed', 'Encrypt element missing')
    const message = await this.open(query, encrypted)
    try { return parseFlatXml(message) } catch (error) {
      if (error instanceof XmlError) throw new CallbackRejected('malformed', `decrypted message: ${error.message}`)
      throw error
    }
  }

  /** Takes back the nonce mark of a genuine callback that could not be kept, so WeCom's retry is not refused as a replay. */
  async release(query: CallbackQuery): Promise<void> {
    await this.deps.nonces.forget(this.nonceKey(query.timestamp ?? '', query.nonce ?? ''))
  }

  private nonceKey(timestamp: string, nonce: string): string {
    return `wecom:nonce:${this.deps.botId}:${timestamp}:${nonce}`
  }

  private async open(query: CallbackQuery, encrypted: string): Promise<string> {
    const { secrets, clock, windowSeconds, nonces } = this.deps
    const timestamp = query.timestamp ?? ''
    const nonce = query.nonce ?? ''
    const received = query.msg_signature ?? ''
    if (!/^\d{1,12}$/.test(timestamp) || !/^[A-Za-z0-9_-]{1,64}$/.test(nonce) || !/^[0-9a-fA-F]{40}$/.test(received)) {
      throw new CallbackRejected('malformed', 'msg_signature, timestamp or nonce missing or malformed')
    }
    if (!signatureMatches(signature(secrets.token, timestamp, nonce, encrypted), received)) throw new CallbackRejected('signature', 'signature does not match')
    const skew = Math.abs(clock.now() / 1000 - Number(timestamp))
    if (skew > windowSeconds) throw new CallbackRejected('timestamp', `timestamp ${Math.round(skew)} s away from now (window ${windowSeconds} s)`)
    const message = decryptMessage(secrets.aesKey, encrypted, secrets.corpId)
    // Marked only once the callback proved genuine; kept for twice the window (older ones fail the timestamp check).
    if (!(await nonces.firstSeen(this.nonceKey(timestamp, nonce), windowSeconds * 2_000))) {
      throw new CallbackRejected('replay', 'nonce already used')
    }
    return message
  }
}
