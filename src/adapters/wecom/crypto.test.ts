import { createCipheriv, randomBytes } from 'node:crypto'
import { FakeClock } from '../../ports/clock'
import { MemoryDedupe } from '../../ports/memory'
import { CallbackVerifier } from './callback'
import { aesKeyOf, CallbackRejected, decryptMessage, encryptMessage, signature } from './crypto'
import { parseFlatXml, list, field } from './xml'

/** The sample of WeCom's callback documentation (加解密库 sample: token, corp id, key and two requests). */
const DOC = {
  token: 'QDG6eK',
  corpId: 'wx5823bf96d3bd56c7',
  aesKey: 'jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C',
  verify: {
    signature: '5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3', timestamp: '1409659589', nonce: '263014780',
    echostr: 'P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==', plain: '1616140317555161061',
  },
  post: {
    signature: '477715d11cdb4164915debcba66cb864d751f3e6', timestamp: '1409659813', nonce: '1372623149',
    encrypt: 'RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q==',
  },
}

/** Raw AES-256-CBC with a chosen (possibly wrong) padding, to test the padding check. */
function rawEncrypt(key: Buffer, plain: Buffer): string {
  const c = createCipheriv('aes-256-cbc', key, key.subarray(0, 16))
  c.setAutoPadding(false)
  return Buffer.concat([c.update(plain), c.final()]).toString('base64')
}

function framed(message: string, receiveId: string): Buffer {
  const text = Buffer.from(message)
  const len = Buffer.alloc(4)
  len.writeUInt32BE(text.length)
  return Buffer.concat([randomBytes(16), len, text, Buffer.from(receiveId)])
}

describe('WeCom callback crypto: the documentation\'s sample vectors', () => {
  const key = aesKeyOf(DOC.aesKey)

  it('signs and decrypts the URL-verification sample', () => {
    expect(signature(DOC.token, DOC.verify.timestamp, DOC.verify.nonce, DOC.verify.echostr)).toBe(DOC.verify.signature)
    expect(decryptMessage(key, DOC.verify.echostr, DOC.corpId)).toBe(DOC.verify.plain)
  })

  it('signs and decrypts the POST sample message', () => {
    expect(signature(DOC.token, DOC.post.timestamp, DOC.post.nonce, DOC.post.encrypt)).toBe(DOC.post.signature)
    const xml = parseFlatXml(decryptMessage(key, DOC.post.encrypt, DOC.corpId))
    expect(field(xml, 'ToUserName')).toBe(DOC.corpId)
    expect(field(xml, 'Content')).toBe('hello')
    expect(field(xml, 'MsgId')).toBe('4561255354251345929')
  })

  it('refuses the sample under another corp id (receive id check)', () => {
    expect(() => decryptMessage(key, DOC.post.encrypt, 'wwsomeoneelse')).toThrow(expect.objectContaining({ reason: 'receive_id' }))
  })

  it('round-trips its own encryption, multi-byte text included, padded to 32-byte blocks', () => {
    const text = '<xml><Content><![CDATA[群运 测试 😀]]></Content></xml>'
    const enc = encryptMessage(key, text, DOC.corpId)
    expect(Buffer.from(enc, 'base64').length % 32).toBe(0)
    expect(decryptMessage(key, enc, DOC.corpId)).toBe(text)
  })

  it('refuses bad PKCS#7 padding: zero, over 32, and inconsistent bytes', () => {
    const body = framed('<xml/>', DOC.corpId)
    const padTo = (pad: number, fill: (i: number) => number): Buffer => {
      const total = Math.ceil((body.length + 1) / 32) * 32
      const n = total - body.length
      const tail = Buffer.alloc(n)
      for (let i = 0; i < n; i++) tail[i] = fill(i)
      tail[n - 1] = pad
      return Buffer.concat([body, tail])
    }
    const n = Math.ceil((body.length + 1) / 32) * 32 - body.length
    expect(() => decryptMessage(key, rawEncrypt(key, padTo(0, () => 0)), DOC.corpId)).toThrow(expect.objectContaining({ reason: 'padding' }))
    expect(() => decryptMessage(key, rawEncrypt(key, padTo(33, () => 33)), DOC.corpId)).toThrow(expect.objectContaining({ reason: 'padding' }))
    if (n > 1) expect(() => decryptMessage(key, rawEncrypt(key, padTo(n, (i) => (i === 0 ? n + 1 : n))), DOC.corpId)).toThrow(expect.objectContaining({ reason: 'padding' }))
    // The same body correctly padded passes.
    expect(decryptMessage(key, rawEncrypt(key, padTo(n, () => n)), DOC.corpId)).toBe('<xml/>')
  })

  it('refuses a message length longer than the plaintext', () => {
    const body = framed('<xml/>', DOC.corpId)
    body.writeUInt32BE(10_000, 16)
    const pad = 32 - (body.length % 32)
    expect(() => decryptMessage(key, rawEncrypt(key, Buffer.concat([body, Buffer.alloc(pad, pad)])), DOC.corpId)).toThrow(expect.objectContaining({ reason: 'length' }))
  })

  it('refuses ciphertext that is not base64 or not whole blocks', () => {
    expect(() => decryptMessage(key, 'not base64!', DOC.corpId)).toThrow(CallbackRejected)
    expect(() => decryptMessage(key, Buffer.alloc(20).toString('base64'), DOC.corpId)).toThrow(expect.objectContaining({ reason: 'decrypt' }))
  })

  it('refuses an EncodingAESKey that is not 43 base64 characters', () => {
    expect(() => aesKeyOf('short')).toThrow('43')
  })
})

describe('WeCom callback verifier', () => {
  const clock = new FakeClock(Number(DOC.post.timestamp) * 1000 + 10_000)
  const make = (nonces = new MemoryDedupe(clock), corpId = DOC.corpId, windowSeconds = 300): CallbackVerifier => new CallbackVerifier({
    botId: 'corp', clock, nonces, windowSeconds, secrets: { token: DOC.token, aesKey: aesKeyOf(DOC.aesKey), corpId },
  })
  const body = `<xml><ToUserName><![CDATA[${DOC.corpId}]]></ToUserName><Encrypt><![CDATA[${DOC.post.encrypt}]]></Encrypt><AgentID><![CDATA[218]]></AgentID></xml>`
  const query = { msg_signature: DOC.post.signature, timestamp: DOC.post.timestamp, nonce: DOC.post.nonce }

  it('accepts the sample once, then refuses the replayed nonce', async () => {
    const v = make()
    expect(field(await v.verifyEvent(query, body), 'Content')).toBe('hello')
    await expect(v.verifyEvent(query, body)).rejects.toMatchObject({ reason: 'replay' })
  })

  it('refuses a tampered signature without spending the nonce', async () => {
    const nonces = new MemoryDedupe(clock)
    const v = make(nonces)
    await expect(v.verifyEvent({ ...query, msg_signature: DOC.post.signature.replace(/^4/, '5') }, body)).rejects.toMatchObject({ reason: 'signature' })
    await expect(v.verifyEvent(query, body)).resolves.toBeDefined()
  })

  it('refuses a stale timestamp and a wrong corp id', async () => {
    await expect(make(undefined, DOC.corpId, 5).verifyEvent(query, body)).rejects.toMatchObject({ reason: 'timestamp' })
    await expect(make(undefined, 'wwother').verifyEvent(query, body)).rejects.toMatchObject({ reason: 'receive_id' })
  })

  it('refuses bodies that are not WeCom XML (DOCTYPE, no Encrypt)', async () => {
    await expect(make().verifyEvent(query, '<!DOCTYPE x [<!ENTITY a "b">]><xml><Encrypt>&a;</Encrypt></xml>')).rejects.toMatchObject({ reason: 'malformed' })
    await expect(make().verifyEvent(query, '<xml><Other>1</Other></xml>')).rejects.toMatchObject({ reason: 'malformed' })
  })
})

describe('flat XML', () => {
  it('reads CDATA, plain text with entities and Item lists', () => {
    const xml = parseFlatXml('<xml><A><![CDATA[x < y]]></A><B>1 &amp; 2</B><L><Item><![CDATA[jack]]></Item><Item>rose</Item></L></xml>')
    expect(field(xml, 'A')).toBe('x < y')
    expect(field(xml, 'B')).toBe('1 & 2')
    expect(list(xml, 'L')).toEqual(['jack', 'rose'])
  })
})
