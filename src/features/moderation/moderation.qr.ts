/**
 * QR codes in images: decode a PNG/JPEG message image, find the QR codes in it, and tell allowlisted contents
 * from adverts (a QR code counts as an advert unless its content is allowlisted — see `isAllowlisted`).
 *
 * Bounded work. Everything here is synchronous, so nothing can be timed out; instead every step is bounded by
 * its input:
 * - `decodeImage` refuses inputs over `MAX_IMAGE_BYTES` and images over `MAX_IMAGE_PIXELS` (checked from the
 *   header before any pixel is decoded; jpeg-js also gets resolution and memory limits, and an interlaced PNG's
 *   zlib stream is inflated with an output cap so that a compression bomb cannot blow up).
 * - `findQrCodes` scans a grey copy whose longer side is at most `maxSide` (box-filter downscale, O(pixels)).
 *   jsQR's locator is super-linear on busy images (random noise of 1024×1024 takes it ~2 s), so before each
 *   jsQR call a cheap O(pixels) estimate of the locator's work (its candidate finder/alignment runs per row,
 *   counted on a binarization like jsQR's) is made: the scan image is halved while the estimate is over
 *   `SCAN_COST_BUDGET` (down to `MIN_SCAN_SIDE`), and all jsQR calls of one `findQrCodes` call share a total
 *   budget (`TOTAL_COST_BUDGET`); a call that would exceed it is skipped.
 *
 * Several codes. jsQR returns at most one code per call, and it finds NONE when two codes are side by side (it
 * pairs finder patterns of both). So: after a hit, the code's bounding box is blanked (white) and the image is
 * scanned again (up to `MAX_CODES` codes); after a miss on an image that shows at least 4 finder-like patterns,
 * its left/right and top/bottom halves are scanned as well.
 */
import jsQR, { type QRCode } from 'jsqr'
import * as jpeg from 'jpeg-js'
import { PNG } from 'pngjs'
import { inflateSync } from 'node:zlib'

/** Largest encoded image accepted, in bytes. */
export const MAX_IMAGE_BYTES = 8 * 1024 * 1024
/** Largest decoded image accepted, in pixels (width × height). */
export const MAX_IMAGE_PIXELS = 16_000_000
/** Default bound on the longer side of the image that is scanned. */
export const DEFAULT_MAX_SIDE = 1024
/** A full-resolution retry (after a miss on the downscaled image) is made only up to this many pixels. */
export const FULL_RES_RETRY_MAX_PIXELS = 1_500_000
/** At most this many codes are reported for one image. */
export const MAX_CODES = 3
/** The scan image is not halved below this longer side to meet the cost budget. */
export const MIN_SCAN_SIDE = 256
/** Estimated work allowed for one jsQR call (units of `estimateScanCost`, ~2 ns each: ~0.3 s). */
export const SCAN_COST_BUDGET = 150_000_000
/** Estimated locator work allowed for all jsQR calls of one `findQrCodes` call. */
export const TOTAL_COST_BUDGET = 500_000_000

/** Decoded image: RGBA, 8 bits per channel, rows top to bottom. */
export interface DecodedImage {
  width: number
  height: number
  data: Uint8ClampedArray
}

/** Options of `findQrCodes`. */
export interface FindQrOptions {
  /** Longer side (px) of the image that is scanned; bigger images are downscaled first. Default 1024. */
  maxSide?: number
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]

/** Decodes a PNG or JPEG (by magic bytes) to RGBA; null if unsupported, corrupt or over the size limits. */
export function decodeImage(bytes: Uint8Array | Buffer): DecodedImage | null {
  try {
    if (!(bytes instanceof Uint8Array) || bytes.length < 16 || bytes.length > MAX_IMAGE_BYTES) return null
    const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    if (PNG_SIGNATURE.every((b, i) => buf[i] === b)) return decodePng(buf)
    if (buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff) return decodeJpeg(buf)
    return null
  } catch {
    return null
  }
}

function decodePng(buf: Buffer): DecodedImage | null {
  // IHDR must be the first chunk: length 13, then width, height, bit depth, colour type, …, interlace method.
  if (buf.length < 33 || buf.readUInt32BE(8) !== 13 || buf.toString('latin1', 12, 16) !== 'IHDR') return null
  const width = buf.readUInt32BE(16)
  const height = buf.readUInt32BE(20)
  if (!pixelCountOk(width, height)) return null
  if (buf[28] !== 0 && !interlacedPngInflatesWithinLimit(buf, width, height)) return null
  const png = PNG.sync.read(buf)
  return toDecoded(png.width, png.height, png.data)
}

/**
 * pngjs inflates an interlaced PNG without an output cap; inflate its IDAT data once here with a cap (a
 * generous bound on the Adam7 stream of a 16-bit RGBA image of this size) so that a bomb is refused first.
 */
function interlacedPngInflatesWithinLimit(buf: Buffer, width: number, height: number): boolean {
  const parts: Buffer[] = []
  let pos = 8
  while (pos + 12 <= buf.length) {
    const length = buf.readUInt32BE(pos)
    const type = buf.toString('latin1', pos + 4, pos + 8)
    const end = pos + 12 + length
    if (end > buf.length) return false
    if (type === 'IDAT') parts.push(buf.subarray(pos + 8, pos + 8 + length))
    if (type === 'IEND') break
    pos = end
  }
  if (parts.length === 0) return false
  const cap = (width * 8 + 7) * height + 7 * (height + 8) + 1024
  try {
    inflateSync(Buffer.concat(parts), { maxOutputLength: cap })
    return true
  } catch {
    return false
  }
}

function decodeJpeg(buf: Buffer): DecodedImage | null {
  const img = jpeg.decode(buf, {
    useTArray: true,
    formatAsRGBA: true,
    tolerantDecoding: true,
    maxResolutionInMP: MAX_IMAGE_PIXELS / 1_000_000,
    maxMemoryUsageInMB: 256,
  })
  return toDecoded(img.width, img.height, img.data)
}

function pixelCountOk(width: number, height: number): boolean {
  return width > 0 && height > 0 && width * height <= MAX_IMAGE_PIXELS
}

function toDecoded(width: number, height: number, data: Uint8Array): DecodedImage | null {
  if (!pixelCountOk(width, height) || data.length !== width * height * 4) return null
  return { width, height, data: new Uint8ClampedArray(data.buffer, data.byteOffset, data.length) }
}

/** Finds QR codes in a PNG/JPEG image (bounded work, see the module comment); their contents, deduplicated. */
export function findQrCodes(bytes: Uint8Array | Buffer, opts?: FindQrOptions): string[] {
  const image = decodeImage(bytes)
  if (!image) return []
  const requested = opts?.maxSide
  const maxSide =
    requested !== undefined && Number.isFinite(requested) && requested >= 1 ? Math.floor(requested) : DEFAULT_MAX_SIDE
  const scan = new Scanner()
  const longer = Math.max(image.width, image.height)
  let grey = toGrey(image, Math.min(1, maxSide / longer))
  // Halve while jsQR's locator would be too busy on this image (noise, dense texture).
  while (estimateScanCost(grey).cost > SCAN_COST_BUDGET && Math.max(grey.width, grey.height) / 2 >= MIN_SCAN_SIDE) {
    grey = toGrey(image, Math.max(grey.width, grey.height) / 2 / longer)
  }
  scan.all(grey)
  if (scan.found.size === 0 && grey.width < image.width && image.width * image.height <= FULL_RES_RETRY_MAX_PIXELS) {
    scan.all(toGrey(image, 1))
  }
  return [...scan.found]
}

/** Grey image for scanning: RGBA with r = g = b = luma (alpha flattened onto white), alpha 255. */
export interface GreyImage {
  width: number
  height: number
  data: Uint8ClampedArray
}

/** Runs jsQR within the total budget and collects distinct contents. */
class Scanner {
  readonly found = new Set<string>()
  private spent = 0

  /** Finds up to MAX_CODES codes in `grey` (modified: found codes are blanked). */
  all(grey: GreyImage): void {
    for (let i = 0; i < MAX_CODES && this.found.size < MAX_CODES; i++) {
      const estimate = estimateScanCost(grey)
      if (process.env.DBG) console.log('  est', estimate)
      let hit = this.one(grey, estimate.cost)
      if (!hit && estimate.finderPatterns >= 4) hit = this.inHalves(grey)
      if (!hit) return
      if (hit.data !== '') this.found.add(hit.data)
      blank(grey, hit)
    }
  }

  /** One jsQR call on the whole of `grey`, unless the budget is spent. */
  private one(grey: GreyImage, cost: number): QRCode | null {
    if (this.spent + cost > TOTAL_COST_BUDGET) return null
    this.spent += cost
    const t0 = process.hrtime.bigint()
    const r = jsQR(grey.data, grey.width, grey.height)
    if (process.env.DBG) console.log('  jsQR', grey.width, grey.height, (cost / 1e6).toFixed(1), 'M', (Number(process.hrtime.bigint() - t0) / 1e6).toFixed(0), 'ms', r?.data)
    return r
  }

  /** Scans the left, right, top and bottom halves; the first hit, in `grey`'s coordinates. */
  private inHalves(grey: GreyImage): QRCode | null {
    const { width: w, height: h } = grey
    const hw = Math.ceil(w / 2)
    const hh = Math.ceil(h / 2)
    const regions: Array<[number, number, number, number]> = [
      [0, 0, hw, h],
      [w - hw, 0, hw, h],
      [0, 0, w, hh],
      [0, h - hh, w, hh],
    ]
    for (const [x, y, rw, rh] of regions) {
      if (rw < 21 || rh < 21) continue
      const part = crop(grey, x, y, rw, rh)
      const hit = this.one(part, estimateScanCost(part).cost)
      if (hit) return offsetLocation(hit, x, y)
    }
    return null
  }
}

/** Box-filter downscale by `scale` (≤ 1) to grey, flattening alpha onto white. O(source pixels). */
function toGrey(image: DecodedImage, scale: number): GreyImage {
  const { width: sw, height: sh, data: src } = image
  const dw = Math.max(1, Math.round(sw * Math.min(1, scale)))
  const dh = Math.max(1, Math.round(sh * Math.min(1, scale)))
  // Destination column of each source column, and the number of source pixels in each destination pixel.
  const colOf = new Uint32Array(sw)
  for (let x = 0; x < sw; x++) colOf[x] = Math.min(dw - 1, Math.floor((x * dw) / sw))
  const colCount = new Uint32Array(dw)
  for (let x = 0; x < sw; x++) colCount[colOf[x]]++
  const acc = new Float64Array(dw)
  const out = new Uint8ClampedArray(dw * dh * 4)
  let sy = 0
  for (let dy = 0; dy < dh; dy++) {
    const syEnd = dy === dh - 1 ? sh : Math.floor(((dy + 1) * sh) / dh)
    const rows = Math.max(1, syEnd - sy)
    acc.fill(0)
    for (; sy < syEnd; sy++) {
      let i = sy * sw * 4
      for (let x = 0; x < sw; x++, i += 4) {
        const a = src[i + 3]
        const luma = (54 * src[i] + 183 * src[i + 1] + 19 * src[i + 2]) >> 8
        acc[colOf[x]] += a === 255 ? luma : (luma * a + 255 * (255 - a)) / 255
      }
    }
    for (let dx = 0, o = dy * dw * 4; dx < dw; dx++, o += 4) {
      const v = acc[dx] / (colCount[dx] * rows)
      out[o] = out[o + 1] = out[o + 2] = v
      out[o + 3] = 255
    }
  }
  return { width: dw, height: dh, data: out }
}

function crop(grey: GreyImage, x0: number, y0: number, w: number, h: number): GreyImage {
  const out = new Uint8ClampedArray(w * h * 4)
  for (let y = 0; y < h; y++) {
    const from = ((y0 + y) * grey.width + x0) * 4
    out.set(grey.data.subarray(from, from + w * 4), y * w * 4)
  }
  return { width: w, height: h, data: out }
}

function offsetLocation(code: QRCode, dx: number, dy: number): QRCode {
  const loc = code.location
  const move = (p: { x: number; y: number }) => ({ x: p.x + dx, y: p.y + dy })
  return {
    ...code,
    location: {
      topLeftCorner: move(loc.topLeftCorner),
      topRightCorner: move(loc.topRightCorner),
      bottomLeftCorner: move(loc.bottomLeftCorner),
      bottomRightCorner: move(loc.bottomRightCorner),
      topLeftFinderPattern: move(loc.topLeftFinderPattern),
      topRightFinderPattern: move(loc.topRightFinderPattern),
      bottomLeftFinderPattern: move(loc.bottomLeftFinderPattern),
      bottomRightAlignmentPattern: loc.bottomRightAlignmentPattern && move(loc.bottomRightAlignmentPattern),
    },
  }
}

/** Fills the bounding box of the code (plus two modules of margin) with white. */
function blank(grey: GreyImage, code: QRCode): void {
  const l = code.location
  const corners = [l.topLeftCorner, l.topRightCorner, l.bottomLeftCorner, l.bottomRightCorner]
  const side = Math.hypot(l.topRightCorner.x - l.topLeftCorner.x, l.topRightCorner.y - l.topLeftCorner.y)
  const margin = Math.ceil((2 * side) / (17 + 4 * Math.max(1, code.version))) + 1
  const x0 = Math.max(0, Math.floor(Math.min(...corners.map((p) => p.x))) - margin)
  const x1 = Math.min(grey.width - 1, Math.ceil(Math.max(...corners.map((p) => p.x))) + margin)
  const y0 = Math.max(0, Math.floor(Math.min(...corners.map((p) => p.y))) - margin)
  const y1 = Math.min(grey.height - 1, Math.ceil(Math.max(...corners.map((p) => p.y))) + margin)
  for (let y = y0; y <= y1; y++) grey.data.fill(255, (y * grey.width + x0) * 4, (y * grey.width + x1 + 1) * 4)
}

const BLOCK = 8
const MIN_BLOCK_RANGE = 24
/** Weight of a pixel in `estimateScanCost` (jsQR's per-pixel work: grey, binarize twice, scan twice). */
const PIXEL_COST = 50
/** Weight of one pattern-like run in `estimateScanCost` (quad bookkeeping and scoring in jsQR). */
const RUN_COST = 1000

/** Scan-cost estimate of a grey image. */
export interface ScanCostEstimate {
  /** Estimated jsQR work, in units of roughly 2 ns on a current x86 core. */
  cost: number
  /** Finder-pattern-like spots (1:1:3:1:1 across and down); a miss with ≥ 4 may hold several codes. */
  finderPatterns: number
}

/**
 * Estimates jsQR's work on `grey` in O(pixels). On a block-threshold binarization like jsQR's it counts, per
 * row, the runs that look like a finder (1:1:3:1:1) or alignment (1:1:1) pattern in either polarity (jsQR also
 * tries the inverted image): jsQR compares each such run with the open candidates of the row above, so the
 * estimate is PIXEL_COST·pixels + Σ rows m·(m_above + m) + RUN_COST·Σ m, per kind of run. It also counts the
 * finder-pattern-like spots: normal-polarity finder runs stacked over ≥ 2 rows, about as tall as wide, and
 * 1:1:3:1:1 down their centre column too.
 */
export function estimateScanCost(grey: GreyImage): ScanCostEstimate {
  const { width: w, height: h } = grey
  const black = binarize(grey)
  // Per kind — 0/1 finder (normal/inverted), 2/3 alignment (normal/inverted) — the runs of the previous row.
  const prev = [0, 0, 0, 0]
  const cur = [0, 0, 0, 0]
  let cost = PIXEL_COST * w * h
  // Normal-polarity finder runs of the previous row (sorted by x), each tied to a candidate spot.
  let above: Array<{ start: number; end: number; id: number }> = []
  const spots: Array<{ top: number; rows: number; sumCentre: number; width: number }> = []
  const runs = new Int32Array(5)
  for (let y = 0; y < h; y++) {
    cur.fill(0)
    const here: Array<{ start: number; end: number; id: number }> = []
    let k = 0
    let last = 0
    let length = 0
    runs.fill(0)
    const row = y * w
    for (let x = 0; x <= w; x++) {
      const bit = x < w ? black[row + x] : 0
      if (bit === last && x < w) {
        length++
        continue
      }
      runs.copyWithin(0, 1)
      runs[4] = length
      length = 1
      last = bit
      const finder = isFinderRuns(runs)
      // Ending on white: a normal finder (b w b w b) or an inverted alignment (b w b); on black, the converse.
      if (finder) cur[bit ? 1 : 0]++
      if (isAlignmentRuns(runs)) cur[bit ? 2 : 3]++
      if (finder && !bit) {
        const end = x - runs[3] - runs[4]
        const start = end - runs[2]
        while (k < above.length && above[k].end < start) k++
        let id: number
        if (k < above.length && above[k].start <= end) {
          id = above[k].id
          spots[id].rows++
          spots[id].sumCentre += (start + end) / 2
        } else {
          id = spots.length
          spots.push({ top: y, rows: 1, sumCentre: (start + end) / 2, width: end - start })
        }
        here.push({ start, end, id })
      }
    }
    for (let i = 0; i < 4; i++) {
      cost += cur[i] * (prev[i] + cur[i]) + RUN_COST * cur[i]
      prev[i] = cur[i]
    }
    above = here
  }
  let finderPatterns = 0
  for (const s of spots) {
    const ratio = s.rows / Math.max(1, s.width)
    if (s.rows < 2 || ratio < 0.5 || ratio > 2) continue
    const cx = Math.round(s.sumCentre / s.rows)
    const cy = s.top + (s.rows >> 1)
    if (isFinderColumn(black, w, h, cx, cy, s.width)) finderPatterns++
  }
  return { cost, finderPatterns }
}

/**
 * 1 = black, 0 = white, per pixel, thresholded per 8×8 block like jsQR does: a block's black point is its mean,
 * or — when its range is at most MIN_BLOCK_RANGE (flat) — half its minimum, raised to its upper/left
 * neighbours' black point when its minimum is below that (a flat dark block inside a code stays dark); a pixel
 * is black when at most the mean black point of the 5×5 blocks around its block.
 */
function binarize(grey: GreyImage): Uint8Array {
  const { width: w, height: h, data } = grey
  const bw = Math.ceil(w / BLOCK)
  const bh = Math.ceil(h / BLOCK)
  const point = new Float64Array(bw * bh)
  for (let by = 0; by < bh; by++) {
    for (let bx = 0; bx < bw; bx++) {
      let sum = 0
      let n = 0
      let min = 255
      let max = 0
      for (let y = by * BLOCK; y < Math.min(h, (by + 1) * BLOCK); y++) {
        for (let x = bx * BLOCK; x < Math.min(w, (bx + 1) * BLOCK); x++) {
          const v = data[(y * w + x) * 4]
          sum += v
          n++
          if (v < min) min = v
          if (v > max) max = v
        }
      }
      let bp = sum / n
      if (max - min <= MIN_BLOCK_RANGE) {
        bp = min / 2
        if (bx > 0 && by > 0) {
          const around = (point[(by - 1) * bw + bx] + 2 * point[by * bw + bx - 1] + point[(by - 1) * bw + bx - 1]) / 4
          if (min < around) bp = around
        }
      }
      point[by * bw + bx] = bp
    }
  }
  const black = new Uint8Array(w * h)
  for (let by = 0; by < bh; by++) {
    for (let bx = 0; bx < bw; bx++) {
      let sum = 0
      let n = 0
      for (let y = Math.max(0, by - 2); y <= Math.min(bh - 1, by + 2); y++) {
        for (let x = Math.max(0, bx - 2); x <= Math.min(bw - 1, bx + 2); x++) {
          sum += point[y * bw + x]
          n++
        }
      }
      const t = sum / n
      for (let y = by * BLOCK; y < Math.min(h, (by + 1) * BLOCK); y++) {
        for (let x = bx * BLOCK; x < Math.min(w, (bx + 1) * BLOCK); x++) {
          if (data[(y * w + x) * 4] <= t) black[y * w + x] = 1
        }
      }
    }
  }
  return black
}

/** Whether the column through (cx, cy), a black pixel, reads 1:1:3:1:1 (each run at most 2 × `width` long). */
function isFinderColumn(black: Uint8Array, w: number, h: number, cx: number, cy: number, width: number): boolean {
  if (cx < 0 || cx >= w || !black[cy * w + cx]) return false
  const limit = 2 * width + 4
  // Runs outward from the centre: up[0] = centre run's upper part, up[1] = white above, up[2] = black above.
  const run = (step: number): number[] | null => {
    const out = [0, 0, 0]
    let y = cy + step
    for (let i = 0; i < 3; i++) {
      const want = i % 2 === 0 ? 1 : 0
      while (y >= 0 && y < h && black[y * w + cx] === want && out[i] <= limit) {
        out[i]++
        y += step
      }
      if (out[i] > limit || (i > 0 && out[i] === 0)) return null
    }
    return out
  }
  const up = run(-1)
  const down = run(1)
  if (!up || !down) return false
  const runs = Int32Array.of(up[2], up[1], up[0] + down[0] + 1, down[1], down[2])
  return isFinderRuns(runs)
}

/** Runs r[0..4] in the proportions 1:1:3:1:1 (jsQR's tolerance). */
function isFinderRuns(r: Int32Array): boolean {
  const u = (r[0] + r[1] + r[2] + r[3] + r[4]) / 7
  return (
    u > 0 &&
    Math.abs(r[0] - u) < u &&
    Math.abs(r[1] - u) < u &&
    Math.abs(r[2] - 3 * u) < 3 * u &&
    Math.abs(r[3] - u) < u &&
    Math.abs(r[4] - u) < u
  )
}

/** Runs r[2..4] in the proportions 1:1:1 (jsQR's tolerance). */
function isAlignmentRuns(r: Int32Array): boolean {
  const u = (r[2] + r[3] + r[4]) / 3
  return u > 0 && Math.abs(r[2] - u) < u && Math.abs(r[3] - u) < u && Math.abs(r[4] - u) < u
}

/**
 * Whether a QR content is allowlisted. Each entry (trimmed; empty ones ignored) is either
 * - a DOMAIN — a bare host name with at least one dot and nothing else (`example.com`, also written
 *   `.example.com` or `*.example.com`): it matches content that is an http(s) URL, or a scheme-less
 *   `host[:port][/…]`, whose host is that domain or a subdomain of it (case-insensitive, IDN via punycode);
 *   `https://example.com/x` and `sub.example.com` match `example.com`, `https://example.com.evil.net/` and
 *   `https://example.com@evil.net/` do not. Content with whitespace or control characters inside is not a URL.
 * - or an exact PREFIX — any other entry (`https://work.weixin.qq.com/u/`, `WIFI:S:office;`): it matches
 *   content that starts with it, case-sensitive, nothing normalized. End a URL prefix with `/`: the prefix
 *   `https://example.com` also matches `https://example.com.evil.net`.
 * Content that is not a URL matches only prefix entries.
 */
export function isAllowlisted(content: string, allow: readonly string[]): boolean {
  let host: string | null | undefined // parsed lazily, only if there is a domain entry
  for (const raw of allow) {
    const entry = raw.trim()
    if (entry === '') continue
    const domain = asDomain(entry)
    if (domain === null) {
      if (content.startsWith(entry)) return true
      continue
    }
    if (host === undefined) host = urlHost(content)
    if (host !== null && (host === domain || host.endsWith('.' + domain))) return true
  }
  return false
}

const HOST_LIKE = /^[^\s/\\?#@:]+$/
const SCHEME_LESS_URL = /^[a-z0-9-]+(?:\.[a-z0-9-]+)+(?::\d{1,5})?(?:[/?#]|$)/i

/** The normalized domain of an allowlist entry, or null if the entry is a prefix entry. */
function asDomain(entry: string): string | null {
  const bare = entry.replace(/^\*?\./, '')
  if (!HOST_LIKE.test(bare) || !bare.includes('.')) return null
  const host = parseHost('http://' + bare)
  return host !== null && host.includes('.') && !host.startsWith('.') ? host : null
}

/** The host of content that is a URL (see `isAllowlisted`), else null. */
function urlHost(content: string): string | null {
  const text = content.trim()
  // eslint-disable-next-line no-control-regex
  if (text === '' || /[\s\u0000-\u001f\u007f]/.test(text)) return null
  if (/^https?:\/\//i.test(text)) return parseHost(text)
  if (SCHEME_LESS_URL.test(text)) return parseHost('http://' + text)
  return null
}

function parseHost(url: string): string | null {
  try {
    const host = new URL(url).hostname.toLowerCase().replace(/\.$/, '')
    return host === '' ? null : host
  } catch {
    return null
  }
}
