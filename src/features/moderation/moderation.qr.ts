/**
 * QR codes in images: decode a PNG/JPEG message image, find the QR codes in it (jsQR), and tell allowlisted
 * contents from adverts (a QR code counts as an advert unless its content is allowlisted — `isAllowlisted`).
 *
 * Bounded work. Everything here is synchronous, so nothing can be timed out; every step is bounded by its
 * input instead:
 * - `decodeImage` refuses inputs over `MAX_IMAGE_BYTES` and images over `MAX_IMAGE_PIXELS` (read from the
 *   header before any pixel is decoded; jpeg-js also gets resolution and memory limits, and an interlaced PNG's
 *   zlib stream is first inflated with an output cap, since pngjs inflates those without one).
 * - `findQrCodes` scans grey copies whose longer side is at most `maxSide` (box-filter downscale, O(pixels)).
 *   jsQR's locator is super-linear on busy images (1024×1024 random noise: ~2 s; a 1-px checkerboard: ~6 s),
 *   so before every jsQR call an O(pixels) estimate of its work is made (`analyseScanImage`): the scan image is
 *   halved while the estimate is over `SCAN_COST_BUDGET` (down to `MIN_SCAN_SIDE`), and all the jsQR calls of
 *   one `findQrCodes` share `TOTAL_COST_BUDGET`; a call that would go over it is skipped.
 *
 * Search order (stops at the first pass that finds something): the image at `maxSide`, then at 1/2 and 1/4 of
 * that (box filtering smooths out moiré and texture: photos of screens often read only there), then at full
 * resolution when that is at most `FULL_RES_RETRY_MAX_PIXELS`, was actually downscaled (by more than 20%) and
 * is within the per-call budget at full size.
 *
 * Several codes. jsQR returns at most one code per call, and none at all when two codes stand side by side (it
 * pairs finder patterns of both). So in each pass: after a hit the code's bounding box is blanked (white) and
 * the image is scanned again, up to `MAX_CODES` codes; after a miss, each likely code area — three
 * finder-pattern-like spots of one size at the corners of a right isosceles triangle, found by the analysis —
 * is cropped and scanned on its own.
 */
import jsQR from 'jsqr'
import * as jpeg from 'jpeg-js'
import { PNG } from 'pngjs'
import { inflateSync } from 'node:zlib'

/** What jsQR reports for a code. */
type QrHit = NonNullable<ReturnType<typeof jsQR>>

/** Largest encoded image accepted, in bytes. */
export const MAX_IMAGE_BYTES = 8 * 1024 * 1024
/** Largest decoded image accepted, in pixels (width × height). */
export const MAX_IMAGE_PIXELS = 16_000_000
/** Default bound on the longer side of the image that is scanned. */
export const DEFAULT_MAX_SIDE = 1024
/** Smallest `maxSide` honoured (smaller values are raised to it). */
export const MIN_MAX_SIDE = 64
/** A full-resolution retry (after a miss on the downscaled images) is made only up to this many pixels. */
export const FULL_RES_RETRY_MAX_PIXELS = 1_500_000
/** At most this many codes are reported for one image. */
export const MAX_CODES = 3
/** The first scan image is not halved below this longer side to meet the cost budget. */
export const MIN_SCAN_SIDE = 256
/** The 1/2 and 1/4 passes are made only while the longer side stays at least this. */
export const MIN_PYRAMID_SIDE = 128
/** Estimated work allowed for one jsQR call (units of `analyseScanImage`, 1–3 ns each on one core: ~0.3 s). */
export const SCAN_COST_BUDGET = 150_000_000
/** Estimated work allowed for all jsQR calls of one `findQrCodes` call (~0.6 s). */
export const TOTAL_COST_BUDGET = 300_000_000
/** At most this many likely code areas are cropped and scanned after a miss. */
const MAX_CANDIDATES = 4

/** Decoded image: RGBA, 8 bits per channel, rows top to bottom. */
export interface DecodedImage {
  width: number
  height: number
  data: Uint8ClampedArray
}

/** Options of `findQrCodes`. */
export interface FindQrOptions {
  /** Longer side (px) of the image scanned first; bigger images are downscaled. Default 1024, at least 64. */
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
  // IHDR must come first: length 13, then width, height, bit depth, colour type, compression, filter, interlace.
  if (buf.length < 33 || buf.readUInt32BE(8) !== 13 || buf.toString('latin1', 12, 16) !== 'IHDR') return null
  const width = buf.readUInt32BE(16)
  const height = buf.readUInt32BE(20)
  if (!pixelCountOk(width, height)) return null
  if (buf[28] !== 0 && !interlacedPngInflatesWithinLimit(buf, width, height)) return null
  const png = PNG.sync.read(buf)
  return toDecoded(png.width, png.height, png.data)
}

/**
 * pngjs inflates an interlaced PNG without an output cap: inflate its IDAT data here first, capped at a
 * generous bound on the Adam7 stream of a 16-bit RGBA image of this size, so that a zlib bomb is refused.
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

/** Finds QR codes in a PNG/JPEG image with bounded work (see the module comment); contents, deduplicated. */
export function findQrCodes(bytes: Uint8Array | Buffer, opts?: FindQrOptions): string[] {
  try {
    const image = decodeImage(bytes)
    return image ? findInImage(image, opts?.maxSide) : []
  } catch {
    return [] // e.g. out of memory for the grey copies; jsQR's own errors are caught per call
  }
}

function findInImage(image: DecodedImage, requestedMaxSide: number | undefined): string[] {
  const maxSide =
    requestedMaxSide !== undefined && Number.isFinite(requestedMaxSide)
      ? Math.max(MIN_MAX_SIDE, Math.floor(requestedMaxSide))
      : DEFAULT_MAX_SIDE
  const longer = Math.max(image.width, image.height)
  const scanner = new Scanner()

  let grey = toGrey(image, Math.min(1, maxSide / longer))
  let analysis = analyseScanImage(grey)
  // Halve while jsQR would be too busy on this image (noise, dense texture).
  while (analysis.cost > SCAN_COST_BUDGET && longerSide(grey) / 2 >= MIN_SCAN_SIDE) {
    grey = halve(grey)
    analysis = analyseScanImage(grey)
  }
  const firstSide = longerSide(grey)
  // Downscaled copies are taken before the pass, which blanks what it finds.
  let half = longerSide(grey) / 2 >= MIN_PYRAMID_SIDE ? halve(grey) : null
  scanner.pass(grey, analysis)
  for (let level = 0; level < 2 && half && scanner.found.size === 0; level++) {
    const next = level === 0 && longerSide(half) / 2 >= MIN_PYRAMID_SIDE ? halve(half) : null
    scanner.pass(half)
    half = next
  }
  if (scanner.found.size === 0 && firstSide < 0.8 * longer && image.width * image.height <= FULL_RES_RETRY_MAX_PIXELS) {
    const full = toGrey(image, 1)
    const fullAnalysis = analyseScanImage(full)
    // Not when the full-size image is too busy for jsQR: its likely code areas would be noise too.
    if (fullAnalysis.cost <= SCAN_COST_BUDGET) scanner.pass(full, fullAnalysis)
  }
  return [...scanner.found]
}

/** Grey image for scanning: RGBA with r = g = b = luma (alpha flattened onto white), alpha 255. */
export interface GreyImage {
  width: number
  height: number
  data: Uint8ClampedArray
}

/** An axis-aligned rectangle, in pixels. */
export interface Box {
  x: number
  y: number
  width: number
  height: number
}

/** Runs jsQR within the total budget and collects distinct, non-empty contents. */
class Scanner {
  readonly found = new Set<string>()
  private spent = 0

  /** One pass over `grey` (which it modifies: found codes are blanked). */
  pass(grey: GreyImage, analysis: ScanAnalysis = analyseScanImage(grey)): void {
    let current = analysis
    for (let i = 0; i < MAX_CODES && this.found.size < MAX_CODES; i++) {
      const hit = this.scan(grey, current.cost)
      if (!hit) break
      this.record(grey, hit)
      current = analyseScanImage(grey)
    }
    // The whole image gives nothing more: try the likely code areas one by one.
    for (const box of current.candidates) {
      if (this.found.size >= MAX_CODES) break
      const part = crop(grey, box)
      const hit = this.scan(part, analyseScanImage(part).cost)
      if (hit) this.record(grey, offsetLocation(hit, box.x, box.y))
    }
  }

  private record(grey: GreyImage, hit: QrHit): void {
    if (hit.data !== '' && this.found.size < MAX_CODES) this.found.add(hit.data)
    blank(grey, hit)
  }

  /** One jsQR call, unless it would go over the per-call or the total budget. */
  private scan(grey: GreyImage, cost: number): QrHit | null {
    if (cost > SCAN_COST_BUDGET || this.spent + cost > TOTAL_COST_BUDGET) return null
    this.spent += cost
    try {
      return jsQR(grey.data, grey.width, grey.height)
    } catch {
      return null
    }
  }
}

function longerSide(grey: GreyImage): number {
  return Math.max(grey.width, grey.height)
}

/** Box-filter downscale by `scale` (≤ 1) to grey, flattening alpha onto white. O(source pixels). */
function toGrey(image: DecodedImage, scale: number): GreyImage {
  const { width: sw, height: sh, data: src } = image
  const dw = Math.max(1, Math.round(sw * Math.min(1, scale)))
  const dh = Math.max(1, Math.round(sh * Math.min(1, scale)))
  // Destination column of each source column, and how many source columns each destination column averages.
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

/** 2×2 box-filter halving of a grey image (an odd last row/column is dropped). */
function halve(grey: GreyImage): GreyImage {
  const w = Math.max(1, grey.width >> 1)
  const h = Math.max(1, grey.height >> 1)
  const src = grey.data
  const sw = grey.width
  const out = new Uint8ClampedArray(w * h * 4)
  for (let y = 0; y < h; y++) {
    // (No Math.* in per-pixel loops: global lookups are slow in vm contexts such as jest's.)
    const y0 = 2 * y < grey.height ? 2 * y : grey.height - 1
    const y1 = 2 * y + 1 < grey.height ? 2 * y + 1 : grey.height - 1
    for (let x = 0; x < w; x++) {
      const x0 = 2 * x < sw ? 2 * x : sw - 1
      const x1 = 2 * x + 1 < sw ? 2 * x + 1 : sw - 1
      const v = (src[(y0 * sw + x0) * 4] + src[(y0 * sw + x1) * 4] + src[(y1 * sw + x0) * 4] + src[(y1 * sw + x1) * 4]) / 4
      const o = (y * w + x) * 4
      out[o] = out[o + 1] = out[o + 2] = v
      out[o + 3] = 255
    }
  }
  return { width: w, height: h, data: out }
}

function crop(grey: GreyImage, box: Box): GreyImage {
  const out = new Uint8ClampedArray(box.width * box.height * 4)
  for (let y = 0; y < box.height; y++) {
    const from = ((box.y + y) * grey.width + box.x) * 4
    out.set(grey.data.subarray(from, from + box.width * 4), y * box.width * 4)
  }
  return { width: box.width, height: box.height, data: out }
}

function offsetLocation(code: QrHit, dx: number, dy: number): QrHit {
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

/** Fills the bounding box of the code's quad (plus two modules of margin) with white. */
function blank(grey: GreyImage, code: QrHit): void {
  const l = code.location
  const corners = [l.topLeftCorner, l.topRightCorner, l.bottomLeftCorner, l.bottomRightCorner]
  const side = Math.hypot(l.topRightCorner.x - l.topLeftCorner.x, l.topRightCorner.y - l.topLeftCorner.y)
  const margin = Math.ceil((2 * side) / (17 + 4 * Math.max(1, code.version))) + 1
  const x0 = Math.max(0, Math.floor(Math.min(...corners.map((p) => p.x))) - margin)
  const x1 = Math.min(grey.width - 1, Math.ceil(Math.max(...corners.map((p) => p.x))) + margin)
  const y0 = Math.max(0, Math.floor(Math.min(...corners.map((p) => p.y))) - margin)
  const y1 = Math.min(grey.height - 1, Math.ceil(Math.max(...corners.map((p) => p.y))) + margin)
  if (x1 < x0 || y1 < y0) return
  for (let y = y0; y <= y1; y++) grey.data.fill(255, (y * grey.width + x0) * 4, (y * grey.width + x1 + 1) * 4)
}

const BLOCK = 8
const MIN_BLOCK_RANGE = 24
/** Weight of a pixel in the cost estimate (jsQR's per-pixel work: grey, binarize twice, scan twice). */
const PIXEL_COST = 50
/** Weight of one pattern-like run in the cost estimate (quad bookkeeping and scoring in jsQR). */
const RUN_COST = 1000
/** At most this many finder-like spots (the largest) are combined into likely code areas. */
const MAX_SPOTS = 48

/** What `analyseScanImage` tells about a grey image. */
export interface ScanAnalysis {
  /** Estimated jsQR work, in units of 1–3 ns on one current x86 core (measured against jsQR 1.4). */
  cost: number
  /** Likely code areas (with their quiet zone), best first, at most MAX_CANDIDATES. */
  candidates: Box[]
}

/** A finder-pattern-like spot: centre and the width of its centre square (3 modules). */
interface Spot {
  x: number
  y: number
  size: number
}

/**
 * Analyses `grey` in O(pixels) on a block-threshold binarization like jsQR's. Cost: per row, it counts the
 * runs that look like a finder (1:1:3:1:1) or alignment (1:1:1) pattern in either polarity (jsQR also tries
 * the inverted image); jsQR compares each with the open candidates of the row above, so the estimate is
 * PIXEL_COST·pixels + Σ rows m·(m_above + m) + RUN_COST·Σ m, per kind of run. Candidates: spots where
 * finder runs stack over ≥ 2 rows, about as tall as wide and 1:1:3:1:1 down their centre column too, grouped
 * in threes of one size at the corners of a right isosceles triangle (a code's three finder patterns).
 */
export function analyseScanImage(grey: GreyImage): ScanAnalysis {
  const { width: w, height: h } = grey
  const black = binarize(grey)
  // Per kind — 0/1 finder (normal/inverted), 2/3 alignment (normal/inverted) — counts in the previous row.
  const prev = [0, 0, 0, 0]
  const cur = [0, 0, 0, 0]
  let cost = PIXEL_COST * w * h
  // Normal-polarity finder runs of the previous row (sorted by x), each tied to a growing spot.
  let above: Array<{ start: number; end: number; id: number }> = []
  const growing: Array<{ top: number; rows: number; sumCentre: number; sumWidth: number }> = []
  const runs = new Int32Array(5)
  for (let y = 0; y < h; y++) {
    cur.fill(0)
    const here: Array<{ start: number; end: number; id: number }> = []
    let k = 0
    let last = 0
    let length = 0
    runs.fill(0)
    const row = y * w
    // x = w is white (as in jsQR): it ends a black run at the right edge.
    for (let x = 0; x <= w; x++) {
      const bit = x < w ? black[row + x] : 0
      if (bit === last) {
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
        } else {
          id = growing.length
          growing.push({ top: y, rows: 0, sumCentre: 0, sumWidth: 0 })
        }
        growing[id].rows++
        growing[id].sumCentre += (start + end) / 2
        growing[id].sumWidth += end - start
        here.push({ start, end, id })
      }
    }
    for (let i = 0; i < 4; i++) {
      cost += cur[i] * (prev[i] + cur[i]) + RUN_COST * cur[i]
      prev[i] = cur[i]
    }
    above = here
  }
  const spots: Spot[] = []
  for (const g of growing) {
    const size = g.sumWidth / g.rows
    const ratio = g.rows / Math.max(1, size)
    if (g.rows < 2 || ratio < 0.5 || ratio > 2) continue
    const x = Math.round(g.sumCentre / g.rows)
    const y = g.top + (g.rows >> 1)
    if (isFinderColumn(black, w, h, x, y, size)) spots.push({ x, y, size: Math.max(1, size) })
  }
  return { cost, candidates: codeAreas(spots, w, h) }
}

/** Groups spots into likely code areas: see `analyseScanImage`. Each spot is used once, best triangles first. */
function codeAreas(all: Spot[], w: number, h: number): Box[] {
  const spots = all.length > MAX_SPOTS ? [...all].sort((a, b) => b.size - a.size).slice(0, MAX_SPOTS) : all
  const triangles: Array<{ score: number; members: [number, number, number] }> = []
  for (let a = 0; a < spots.length; a++) {
    for (let b = 0; b < spots.length; b++) {
      if (b === a) continue
      for (let c = b + 1; c < spots.length; c++) {
        if (c === a) continue
        const score = triangleScore(spots[a], spots[b], spots[c])
        if (score !== null) triangles.push({ score, members: [a, b, c] })
      }
    }
  }
  triangles.sort((p, q) => p.score - q.score)
  const used = new Set<number>()
  const boxes: Box[] = []
  for (const t of triangles) {
    if (boxes.length >= MAX_CANDIDATES) break
    if (t.members.some((m) => used.has(m))) continue
    t.members.forEach((m) => used.add(m))
    const [corner, p, q] = t.members.map((m) => spots[m])
    // The fourth corner completes the parallelogram; margin: 3.5 modules to the code's edge, 4 of quiet zone.
    const xs = [corner.x, p.x, q.x, p.x + q.x - corner.x]
    const ys = [corner.y, p.y, q.y, p.y + q.y - corner.y]
    const module = (corner.size + p.size + q.size) / 9
    const margin = Math.ceil(8 * module + 0.1 * Math.hypot(p.x - corner.x, p.y - corner.y))
    const x0 = Math.max(0, Math.floor(Math.min(...xs)) - margin)
    const y0 = Math.max(0, Math.floor(Math.min(...ys)) - margin)
    const x1 = Math.min(w, Math.ceil(Math.max(...xs)) + margin)
    const y1 = Math.min(h, Math.ceil(Math.max(...ys)) + margin)
    if (x1 - x0 >= 21 && y1 - y0 >= 21) boxes.push({ x: x0, y: y0, width: x1 - x0, height: y1 - y0 })
  }
  return boxes
}

/**
 * How far spots `a` (the corner), `b` and `c` are from a code's finder patterns — one size, |ab| ≈ |ac|, a right
 * angle at `a`, 14…170 modules apart — as a score (lower is better), or null if too far.
 */
function triangleScore(a: Spot, b: Spot, c: Spot): number | null {
  const sizes = [a.size, b.size, c.size]
  const sizeSpread = Math.max(...sizes) / Math.min(...sizes)
  if (sizeSpread > 1.5) return null
  const abx = b.x - a.x
  const aby = b.y - a.y
  const acx = c.x - a.x
  const acy = c.y - a.y
  const ab = Math.hypot(abx, aby)
  const ac = Math.hypot(acx, acy)
  if (ab === 0 || ac === 0) return null
  const lengthSpread = Math.max(ab, ac) / Math.min(ab, ac)
  if (lengthSpread > 1.3) return null
  const cos = Math.abs(abx * acx + aby * acy) / (ab * ac)
  if (cos > 0.3) return null
  const module = (a.size + b.size + c.size) / 9
  const modulesApart = (ab + ac) / 2 / module
  if (modulesApart < 12 || modulesApart > 180) return null
  return sizeSpread - 1 + (lengthSpread - 1) + cos
}

/**
 * 1 = black, 0 = white, per pixel, thresholded per 8×8 block like jsQR does: a block's black point is its mean
 * or — when its range is at most MIN_BLOCK_RANGE (flat) — half its minimum, raised to its upper/left
 * neighbours' black point when its minimum is below that (so a flat dark block inside a code stays dark); a
 * pixel is black when at most the mean black point of the 5×5 blocks around its block.
 */
function binarize(grey: GreyImage): Uint8Array {
  const { width: w, height: h, data } = grey
  const bw = Math.ceil(w / BLOCK)
  const bh = Math.ceil(h / BLOCK)
  const point = new Float64Array(bw * bh)
  for (let by = 0; by < bh; by++) {
    const yEnd = (by + 1) * BLOCK < h ? (by + 1) * BLOCK : h
    for (let bx = 0; bx < bw; bx++) {
      const xEnd = (bx + 1) * BLOCK < w ? (bx + 1) * BLOCK : w
      let sum = 0
      let n = 0
      let min = 255
      let max = 0
      for (let y = by * BLOCK; y < yEnd; y++) {
        for (let x = bx * BLOCK; x < xEnd; x++) {
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
    const yEnd = (by + 1) * BLOCK < h ? (by + 1) * BLOCK : h
    const nyFrom = by > 2 ? by - 2 : 0
    const nyTo = by + 2 < bh ? by + 2 : bh - 1
    for (let bx = 0; bx < bw; bx++) {
      const xEnd = (bx + 1) * BLOCK < w ? (bx + 1) * BLOCK : w
      const nxFrom = bx > 2 ? bx - 2 : 0
      const nxTo = bx + 2 < bw ? bx + 2 : bw - 1
      let sum = 0
      let n = 0
      for (let y = nyFrom; y <= nyTo; y++) {
        for (let x = nxFrom; x <= nxTo; x++) {
          sum += point[y * bw + x]
          n++
        }
      }
      const t = sum / n
      for (let y = by * BLOCK; y < yEnd; y++) {
        for (let x = bx * BLOCK; x < xEnd; x++) {
          if (data[(y * w + x) * 4] <= t) black[y * w + x] = 1
        }
      }
    }
  }
  return black
}

/** Whether the column through (cx, cy), a black pixel, reads 1:1:3:1:1 (no run longer than 2 × `size` + 4). */
function isFinderColumn(black: Uint8Array, w: number, h: number, cx: number, cy: number, size: number): boolean {
  if (cx < 0 || cx >= w || !black[cy * w + cx]) return false
  const limit = 2 * size + 4
  // Runs outward from the centre pixel: the centre square's part, then white, then black.
  const outward = (step: number): number[] | null => {
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
  const up = outward(-1)
  const down = outward(1)
  if (!up || !down) return false
  return isFinderRuns(Int32Array.of(up[2], up[1], up[0] + down[0] + 1, down[1], down[2]))
}

/** Runs r[0..4] in the proportions 1:1:3:1:1 (jsQR's tolerance). */
function isFinderRuns(r: Int32Array): boolean {
  const u = (r[0] + r[1] + r[2] + r[3] + r[4]) / 7
  // |r - u| < u  ⇔  0 < r < 2u (and likewise for 3u), without Math.abs in this hot path.
  return (
    u > 0 &&
    r[0] > 0 && r[0] < 2 * u &&
    r[1] > 0 && r[1] < 2 * u &&
    r[2] > 0 && r[2] < 6 * u &&
    r[3] > 0 && r[3] < 2 * u &&
    r[4] > 0 && r[4] < 2 * u
  )
}

/** Runs r[2..4] in the proportions 1:1:1 (jsQR's tolerance). */
function isAlignmentRuns(r: Int32Array): boolean {
  const u = (r[2] + r[3] + r[4]) / 3
  return u > 0 && r[2] > 0 && r[2] < 2 * u && r[3] > 0 && r[3] < 2 * u && r[4] > 0 && r[4] < 2 * u
}

/**
 * Whether a QR content is allowlisted. Each entry (trimmed; empty ones ignored) is either
 * - a DOMAIN — a bare host name with at least one dot and nothing else (`example.com`, also written
 *   `.example.com` or `*.example.com`): it matches content that is an http(s) URL, or a scheme-less
 *   `host[:port][/…]`, whose host is that domain or a subdomain of it (case-insensitive, IDN via punycode).
 *   So `https://example.com/x` and `sub.example.com` match `example.com`; `https://example.com.evil.net/`,
 *   `https://example.com@evil.net/` and `https://notexample.com/` do not. Content with whitespace or control
 *   characters inside (after trimming) is not a URL.
 * - or an exact PREFIX — any other entry (`https://work.weixin.qq.com/u/`, `WIFI:S:office;`): it matches
 *   content that starts with it, case-sensitive, nothing normalized. End a URL prefix with `/`: the prefix
 *   `https://example.com` would also match `https://example.com.evil.net`.
 * Content that is not a URL matches only prefix entries.
 */
export function isAllowlisted(content: string, allow: readonly string[]): boolean {
  let host: string | null | undefined // parsed lazily, at the first domain entry
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
// eslint-disable-next-line no-control-regex
const SPACE_OR_CONTROL = /[\s\u0000-\u001f\u007f]/

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
  if (text === '' || SPACE_OR_CONTROL.test(text)) return null
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
