/** QR codes in images: decoding limits, finding codes (generated in the test with `qrcode`), allowlist semantics. */
import * as jpeg from 'jpeg-js'
import { PNG } from 'pngjs'
import * as QR from 'qrcode'
import { crc32, deflateSync } from 'node:zlib'
import {
  MAX_IMAGE_BYTES,
  SCAN_COST_BUDGET,
  analyseScanImage,
  decodeImage,
  findQrCodes,
  isAllowlisted,
  type DecodedImage,
} from './moderation.qr'

/** An RGBA canvas filled with one colour. */
function canvas(width: number, height: number, rgba: [number, number, number, number] = [255, 255, 255, 255]): DecodedImage {
  const data = new Uint8ClampedArray(width * height * 4)
  for (let i = 0; i < data.length; i += 4) data.set(rgba, i)
  return { width, height, data }
}

/** A QR code of `text` as decoded RGBA (black on white, 4-module quiet zone). */
async function qrImage(text: string, scale = 6): Promise<DecodedImage> {
  const png = PNG.sync.read(await QR.toBuffer(text, { type: 'png', scale, margin: 4 }))
  return { width: png.width, height: png.height, data: new Uint8ClampedArray(png.data) }
}

/** Copies `src` onto `dst` with its top-left corner at (x, y). */
function paste(dst: DecodedImage, src: DecodedImage, x: number, y: number): DecodedImage {
  for (let row = 0; row < src.height; row++) {
    const from = row * src.width * 4
    dst.data.set(src.data.subarray(from, from + src.width * 4), ((y + row) * dst.width + x) * 4)
  }
  return dst
}

/** PNG (RGBA8, no filtering) encoded here: pngjs's own encoder is very slow under jest for big images. */
function toPng(img: DecodedImage): Buffer {
  const stride = img.width * 4
  const raw = Buffer.alloc((stride + 1) * img.height)
  for (let y = 0; y < img.height; y++) raw.set(img.data.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1)
  return rawPng(img.width, img.height, 0, deflateSync(raw))
}

/** JPEG of a PNG: decoded with pngjs, encoded with jpeg-js. */
function toJpeg(pngBytes: Buffer, quality = 90): Buffer {
  const png = PNG.sync.read(pngBytes)
  return jpeg.encode({ width: png.width, height: png.height, data: png.data }, quality).data
}

/** A deterministic pseudo-random generator (LCG) giving numbers in [0, 1). */
function random(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

/** A PNG chunk with its length and CRC. */
function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8)
  head.writeUInt32BE(data.length, 0)
  head.write(type, 4, 'latin1')
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0)
  return Buffer.concat([head, data, crc])
}

/** A hand-made RGBA8 PNG with the given IHDR size and interlace flag and raw (filtered) scanline data. */
function rawPng(width: number, height: number, interlace: 0 | 1, idat: Buffer): Buffer {
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(width, 0)
  ihdr.writeUInt32BE(height, 4)
  ihdr[8] = 8 // bit depth
  ihdr[9] = 6 // colour type RGBA
  ihdr[12] = interlace
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', idat),
    chunk('IEND', Buffer.alloc(0)),
  ])
}

const AD_URL = 'https://ads.example.net/promo?id=42'

describe('decodeImage', () => {
  it('decodes PNG and JPEG to RGBA', async () => {
    const png = toPng(paste(canvas(120, 80, [10, 200, 30, 255]), canvas(10, 10, [0, 0, 0, 255]), 5, 5))
    const fromPng = decodeImage(png)
    expect(fromPng).not.toBeNull()
    expect(fromPng!.width).toBe(120)
    expect(fromPng!.height).toBe(80)
    expect(fromPng!.data.length).toBe(120 * 80 * 4)
    expect(Array.from(fromPng!.data.subarray(0, 4))).toEqual([10, 200, 30, 255])
    const fromJpeg = decodeImage(toJpeg(png))
    expect(fromJpeg).not.toBeNull()
    expect([fromJpeg!.width, fromJpeg!.height]).toEqual([120, 80])
    expect(fromJpeg!.data).toBeInstanceOf(Uint8ClampedArray)
    // Also from a plain Uint8Array view into a larger buffer.
    const padded = new Uint8Array(png.length + 10)
    padded.set(png, 5)
    expect(decodeImage(padded.subarray(5, 5 + png.length))).not.toBeNull()
  })

  it('returns null, without throwing, for unsupported, corrupt and truncated input', () => {
    const png = toPng(canvas(64, 64))
    const jpg = toJpeg(png)
    const rand = random(1)
    const garbage = Buffer.from(Array.from({ length: 4096 }, () => Math.floor(rand() * 256)))
    const cases: Array<Uint8Array> = [
      new Uint8Array(0),
      Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00;'),
      garbage,
      png.subarray(0, png.length >> 1),
      png.subarray(0, 40),
      Buffer.concat([png.subarray(0, 8), garbage]),
      jpg.subarray(0, jpg.length >> 1),
      Buffer.concat([jpg.subarray(0, 3), garbage]),
    ]
    for (const bytes of cases) expect(decodeImage(bytes)).toBeNull()
    expect(decodeImage('not bytes' as unknown as Uint8Array)).toBeNull()
  })

  it('refuses inputs over the byte limit', () => {
    const png = toPng(canvas(32, 32))
    expect(decodeImage(png)).not.toBeNull()
    const big = Buffer.alloc(MAX_IMAGE_BYTES + 1)
    png.copy(big) // a valid PNG followed by padding: refused for its size alone
    expect(decodeImage(big)).toBeNull()
  })

  it('refuses images over the pixel limit before decoding them', () => {
    // 4097 × 4000 > 16 MP: only the header is read (the data would not even inflate to that size).
    const header = rawPng(4097, 4000, 0, deflateSync(Buffer.alloc(100)))
    expect(decodeImage(header)).toBeNull()
    // A JPEG whose frame header claims 5000 × 5000.
    const jpg = Buffer.from(toJpeg(toPng(canvas(16, 16))))
    const sof = jpg.indexOf(Buffer.from([0xff, 0xc0]))
    expect(sof).toBeGreaterThan(0)
    jpg.writeUInt16BE(5000, sof + 5)
    jpg.writeUInt16BE(5000, sof + 7)
    expect(decodeImage(jpg)).toBeNull()
  })

  it('decodes interlaced PNGs but refuses a zlib bomb in one', () => {
    // 1 × 1 Adam7: only pass 1 has a pixel: filter byte 0, then RGBA.
    const tiny = rawPng(1, 1, 1, deflateSync(Buffer.from([0, 1, 2, 3, 255])))
    const img = decodeImage(tiny)
    expect(img).not.toBeNull()
    expect(Array.from(img!.data)).toEqual([1, 2, 3, 255])
    // 1000 × 1000 declared; the stream inflates to 64 MB (the image needs ~4 MB).
    const bomb = rawPng(1000, 1000, 1, deflateSync(Buffer.alloc(64 * 1024 * 1024)))
    expect(bomb.length).toBeLessThan(MAX_IMAGE_BYTES)
    expect(decodeImage(bomb)).toBeNull()
  })
})

describe('findQrCodes', () => {
  it('finds a URL QR code in a PNG', async () => {
    const img = paste(canvas(400, 300, [240, 240, 235, 255]), await qrImage(AD_URL), 60, 40)
    expect(findQrCodes(toPng(img))).toEqual([AD_URL])
  })

  it('finds a QR code in a JPEG', async () => {
    const img = paste(canvas(500, 400, [250, 250, 250, 255]), await qrImage('WeChat: add me 12345678', 5), 150, 100)
    expect(findQrCodes(toJpeg(toPng(img), 85))).toEqual(['WeChat: add me 12345678'])
  })

  it('finds the QR code of the PNG made by qrcode itself', async () => {
    expect(findQrCodes(await QR.toBuffer(AD_URL))).toEqual([AD_URL])
  })

  it('finds two QR codes side by side', async () => {
    const a = await qrImage('https://pay.example.org/alipay/123', 6)
    const b = await qrImage('https://wx.example.com/r/abcdef', 6)
    const img = canvas(a.width + b.width + 40, Math.max(a.height, b.height) + 40)
    paste(img, a, 20, 20)
    paste(img, b, 20 + a.width, 20)
    expect(findQrCodes(toPng(img)).sort()).toEqual(['https://pay.example.org/alipay/123', 'https://wx.example.com/r/abcdef'])
  })

  it('finds two QR codes of different sizes, one above the other', async () => {
    const a = await qrImage('first code', 8)
    const b = await qrImage('https://second.example.com/a/much/longer/path/to/make/a/bigger/version', 4)
    const img = canvas(Math.max(a.width, b.width) + 60, a.height + b.height + 60, [230, 235, 240, 255])
    paste(img, a, 30, 30)
    paste(img, b, 30, 30 + a.height)
    expect(findQrCodes(toPng(img)).sort()).toEqual(
      ['first code', 'https://second.example.com/a/much/longer/path/to/make/a/bigger/version'].sort(),
    )
  })

  it('reports a content once when the same code appears twice', async () => {
    const a = await qrImage(AD_URL, 5)
    const img = canvas(a.width * 2 + 20, a.height + 20)
    paste(img, a, 10, 10)
    paste(img, a, 10 + a.width, 10)
    expect(findQrCodes(toPng(img))).toEqual([AD_URL])
  })

  it('finds a QR code in the corner of a 3000 × 3000 image (downscaled first)', async () => {
    const img = canvas(3000, 3000, [200, 210, 220, 255])
    // Some structure elsewhere in the picture: dark bars.
    for (let i = 0; i < 12; i++) paste(img, canvas(1200, 40, [40, 40, 60, 255]), 1500, 600 + i * 180)
    paste(img, await qrImage(AD_URL, 10), 2600 - 20, 2600 - 20)
    const bytes = toPng(img)
    expect(bytes.length).toBeLessThan(MAX_IMAGE_BYTES)
    expect(findQrCodes(bytes)).toEqual([AD_URL])
  })

  it('retries at full resolution a code too small for the downscaled pass', async () => {
    // 1200 × 1000 (1.2 MP) with 2-px modules: 1.4 px after downscaling to 1024, too few for jsQR.
    const img = paste(canvas(1200, 1000), await qrImage(AD_URL, 2), 900, 700)
    expect(findQrCodes(toPng(img))).toEqual([AD_URL])
    expect(findQrCodes(toPng(img), { maxSide: 1200 })).toEqual([AD_URL])
  })

  it('honours maxSide and ignores invalid values', async () => {
    const img = paste(canvas(600, 600), await qrImage(AD_URL, 10), 100, 100)
    const bytes = toPng(img)
    expect(findQrCodes(bytes, { maxSide: 300 })).toEqual([AD_URL])
    expect(findQrCodes(bytes, { maxSide: Number.NaN })).toEqual([AD_URL])
    expect(findQrCodes(bytes, { maxSide: Number.POSITIVE_INFINITY })).toEqual([AD_URL])
    // Raised to 64 px (too small for this code), then found by the full-resolution retry.
    expect(findQrCodes(bytes, { maxSide: -5 })).toEqual([AD_URL])
    expect(findQrCodes(toPng(canvas(1, 1)), { maxSide: 1 })).toEqual([])
  })

  it('finds a code on a transparent background and an inverted code', async () => {
    const qr = await qrImage(AD_URL, 6)
    const transparent = { ...qr, data: new Uint8ClampedArray(qr.data) }
    for (let i = 0; i < transparent.data.length; i += 4) {
      if (transparent.data[i] > 128) transparent.data.set([0, 0, 0, 0], i)
    }
    expect(findQrCodes(toPng(transparent))).toEqual([AD_URL])
    const inverted = { ...qr, data: new Uint8ClampedArray(qr.data) }
    for (let i = 0; i < inverted.data.length; i += 4) {
      const v = 255 - inverted.data[i]
      inverted.data.set([v, v, v, 255], i)
    }
    const framed = paste(canvas(qr.width + 40, qr.height + 40, [0, 0, 0, 255]), inverted, 20, 20)
    expect(findQrCodes(toPng(framed))).toEqual([AD_URL])
  })

  it('finds nothing in an image without a QR code', () => {
    const img = canvas(800, 600)
    const rand = random(7)
    for (let y = 0; y < 600; y++) {
      for (let x = 0; x < 800; x++) {
        const v = 128 + 60 * Math.sin(x / 37) * Math.cos(y / 23) + 20 * rand()
        img.data.set([v, v * 0.9, 255 - v, 255], (y * 800 + x) * 4)
      }
    }
    for (let i = 0; i < 20; i++) paste(img, canvas(30, 30, [0, 0, 0, 255]), 20 + i * 38, 20 + (i % 5) * 100)
    expect(findQrCodes(toPng(img))).toEqual([])
    expect(findQrCodes(toJpeg(toPng(img)))).toEqual([])
  })

  it('returns [] for garbage, truncated and oversized input without throwing', async () => {
    const png = toPng(paste(canvas(300, 300), await qrImage(AD_URL), 20, 20))
    const rand = random(3)
    expect(findQrCodes(Buffer.from(Array.from({ length: 10_000 }, () => Math.floor(rand() * 256))))).toEqual([])
    expect(findQrCodes(png.subarray(0, Math.floor(png.length * 0.6)))).toEqual([])
    expect(findQrCodes(new Uint8Array(0))).toEqual([])
    const big = Buffer.alloc(MAX_IMAGE_BYTES + 1)
    png.copy(big)
    expect(findQrCodes(png)).toEqual([AD_URL])
    expect(findQrCodes(big)).toEqual([])
  })

  it('does not run jsQR on images that would make it super-linear', () => {
    // A 1-px checkerboard: jsQR would take seconds on it at 1024 × 1024 (every run is pattern-like).
    const size = 1024
    const board = canvas(size, size)
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) if ((x + y) % 2) board.data.set([0, 0, 0, 255], (y * size + x) * 4)
    }
    expect(analyseScanImage(board).cost).toBeGreaterThan(SCAN_COST_BUDGET)
    expect(findQrCodes(toPng(board))).toEqual([])
    // A plain picture is well within budget.
    expect(analyseScanImage(canvas(size, size)).cost).toBeLessThan(SCAN_COST_BUDGET)
  })
})

describe('isAllowlisted', () => {
  const allow = ['example.com', '*.corp.example.org', 'https://work.weixin.qq.com/u/', 'WIFI:S:office;']

  it('matches domain entries against the host of URLs, and their subdomains', () => {
    expect(isAllowlisted('https://example.com/x', allow)).toBe(true)
    expect(isAllowlisted('http://EXAMPLE.com', allow)).toBe(true)
    expect(isAllowlisted('https://sub.example.com/path?q=1', allow)).toBe(true)
    expect(isAllowlisted('https://a.b.example.com:8443/', allow)).toBe(true)
    expect(isAllowlisted('https://example.com./x', allow)).toBe(true)
    expect(isAllowlisted('sub.example.com', allow)).toBe(true)
    expect(isAllowlisted('example.com/landing', allow)).toBe(true)
    expect(isAllowlisted('https://hr.corp.example.org/jobs', allow)).toBe(true)
    expect(isAllowlisted('https://corp.example.org/', allow)).toBe(true)
    expect(isAllowlisted('  https://example.com/x\n', allow)).toBe(true)
  })

  it('does not match look-alike hosts', () => {
    expect(isAllowlisted('https://example.com.evil.net/', allow)).toBe(false)
    expect(isAllowlisted('https://notexample.com/', allow)).toBe(false)
    expect(isAllowlisted('https://example.com@evil.net/', allow)).toBe(false)
    expect(isAllowlisted('https://evil.net/?u=https://example.com/', allow)).toBe(false)
    expect(isAllowlisted('https://evil.net\\@example.com/', allow)).toBe(false)
    expect(isAllowlisted('https://example.org/', allow)).toBe(false)
    expect(isAllowlisted('https://example.org/', ['.example.org'])).toBe(true)
  })

  it('treats content that is not a URL as matching prefix entries only', () => {
    expect(isAllowlisted('WIFI:S:office;T:WPA;P:secret;;', allow)).toBe(true)
    expect(isAllowlisted('wifi:S:office;', allow)).toBe(false) // prefixes are case-sensitive
    expect(isAllowlisted('example.com is great, add me on WeChat', allow)).toBe(false)
    expect(isAllowlisted('https://example.com/ https://evil.net/', allow)).toBe(false)
    expect(isAllowlisted('weixin://dl/business/?t=example.com', allow)).toBe(false)
    expect(isAllowlisted('mailto:someone@example.com', allow)).toBe(false)
    expect(isAllowlisted('', allow)).toBe(false)
  })

  it('matches exact prefixes literally', () => {
    expect(isAllowlisted('https://work.weixin.qq.com/u/vc123', allow)).toBe(true)
    expect(isAllowlisted('https://work.weixin.qq.com/ca/x', allow)).toBe(false)
    expect(isAllowlisted('HTTPS://work.weixin.qq.com/u/vc123', allow)).toBe(false)
    // Documented pitfall: a URL prefix without a trailing slash also matches a longer host.
    expect(isAllowlisted('https://example.net.evil.io/', ['https://example.net'])).toBe(true)
    expect(isAllowlisted('https://example.net.evil.io/', ['https://example.net/'])).toBe(false)
  })

  it('ignores empty entries and matches nothing with an empty list', () => {
    expect(isAllowlisted('https://example.com/', [])).toBe(false)
    expect(isAllowlisted('anything', ['', '   '])).toBe(false)
    expect(isAllowlisted('https://example.com/', ['  example.com  '])).toBe(true)
  })

  it('normalizes internationalized domains', () => {
    expect(isAllowlisted('https://www.例子.中国/x', ['例子.中国'])).toBe(true)
    expect(isAllowlisted('https://www.xn--fsqu00a.xn--fiqs8s/x', ['例子.中国'])).toBe(true)
  })
})
