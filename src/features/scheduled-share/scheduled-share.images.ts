import { createHash } from 'node:crypto'
import type { FeatureStore } from '../../adapters/db/feature-store'
import { isDuplicate } from '../../adapters/db/errors'
import type { MediaStore, StoredMedia } from '../../contracts/media'
import { canSeeOwned, ownerFor, type Principal } from '../../kernel/auth'
import { defineRoute, HttpError, ownedNotFound, type RouteDefinition } from '../../kernel/routes'
import type { Clock } from '../../ports/clock'
import { ShareImageChunkEntity, ShareImageEntity, SharePostEntity } from './scheduled-share.entity'
import { ImageParams, ImageUploadBody } from './scheduled-share.schema'

/** Image types an upload may be, recognised by their first bytes (the declared type must agree). */
export type ImageMime = 'image/png' | 'image/jpeg' | 'image/gif' | 'image/webp'
const EXTENSION: Record<ImageMime, string> = { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/gif': 'gif', 'image/webp': 'webp' }
/** Largest side accepted, in pixels (WeCom shows nothing bigger usefully; keeps decoders safe). */
export const MAX_SIDE = 10_000
const CHUNK = 48 * 1024
const IMAGE = { kind: 'share image' }
/** The reference an outbound action carries for an uploaded image. */
export const imageRef = (id: number): string => `media:share-image:${id}`

/** The type of an image by its magic bytes, or null. */
export function sniffImage(b: Buffer): ImageMime | null {
  if (b.length >= 8 && b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'image/png'
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg'
  if (b.length >= 6 && /^GIF8[79]a$/.test(b.subarray(0, 6).toString('latin1'))) return 'image/gif'
  if (b.length >= 12 && b.subarray(0, 4).toString('latin1') === 'RIFF' && b.subarray(8, 12).toString('latin1') === 'WEBP') return 'image/webp'
  return null
}

/** Width and height from the image header (no decoding), or null when the header is cut short or malformed. */
export function imageSize(b: Buffer, mime: ImageMime): { width: number; height: number } | null {
  try {
    switch (mime) {
      case 'image/png':
        return b.subarray(12, 16).toString('latin1') === 'IHDR' ? { width: b.readUInt32BE(16), height: b.readUInt32BE(20) } : null
      case 'image/gif':
        return { width: b.readUInt16LE(6), height: b.readUInt16LE(8) }
      case 'image/jpeg': {
        // Walk the segments to the first start-of-frame marker (SOF0..SOF15 except DHT, JPG, DAC).
        let i = 2
        while (i + 9 < b.length) {
          if (b[i] !== 0xff) return null
          const marker = b[i + 1] as number
          if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
            return { width: b.readUInt16BE(i + 7), height: b.readUInt16BE(i + 5) }
          }
          i += 2 + b.readUInt16BE(i + 2)
        }
        return null
      }
      case 'image/webp': {
        const chunk = b.subarray(12, 16).toString('latin1')
        if (chunk === 'VP8X') return { width: 1 + b.readUIntLE(24, 3), height: 1 + b.readUIntLE(27, 3) }
        if (chunk === 'VP8L') {
          const bits = b.readUInt32LE(21)
          return { width: 1 + (bits & 0x3fff), height: 1 + ((bits >>> 14) & 0x3fff) }
        }
        if (chunk === 'VP8 ') return { width: b.readUInt16LE(26) & 0x3fff, height: b.readUInt16LE(28) & 0x3fff }
        return null
      }
    }
  } catch {
    return null // read past the end: a truncated header
  }
}

/** An uploaded image as the API shows it (without its bytes). */
function imageView(row: ShareImageEntity): Record<string, unknown> {
  return { id: row.id, ownerTokenId: row.ownerTokenId, name: row.name, mime: row.mime, bytes: row.bytes, width: row.width, height: row.height, sha256: row.sha256, createdAt: new Date(row.createdAt).toISOString() }
}

const invalid = (message: string): HttpError => new HttpError(400, 'invalid_input', `body.data: ${message}`, [{ path: 'body.data', message }])

/** The content library's images: uploads (deduplicated per owner), reads, deletes, and the MEDIA service the channels resolve. */
export class ShareImages implements MediaStore {
  constructor(private readonly deps: { db: FeatureStore; clock: Clock; maxBytes: number }) {}

  /** Whether `id` is an image the caller may use (its own, or any for admins). */
  async usable(id: number, auth: Principal | null): Promise<boolean> {
    const row = await this.deps.db.repo(ShareImageEntity).findOne({ select: { id: true, ownerTokenId: true }, where: { id } })
    return row !== null && canSeeOwned(auth, row.ownerTokenId)
  }

  async load(ref: string): Promise<StoredMedia | null> {
    const m = /^media:share-image:(\d+)$/.exec(ref)
    if (!m) return null
    const row = await this.deps.db.repo(ShareImageEntity).findOneBy({ id: Number(m[1]) })
    if (!row) return null
    const chunks = await this.deps.db.repo(ShareImageChunkEntity).find({ where: { imageId: row.id }, order: { seq: 'ASC' } })
    if (chunks.length !== row.chunks) return null
    return { data: Buffer.concat(chunks.map((c) => Buffer.from(c.data))), name: `share-image-${row.id}.${EXTENSION[row.mime as ImageMime]}`, mime: row.mime }
  }

  /** Stores an upload after checking size, type (magic bytes) and dimensions; the same bytes again return the stored image. */
  async upload(base64: string, declared: ImageMime, name: string | null, auth: Principal | null): Promise<{ row: ShareImageEntity; created: boolean }> {
    const { maxBytes } = this.deps
    if (Math.floor(base64.length * 3 / 4) > maxBytes + 2) throw new HttpError(413, 'payload_too_large', `image larger than ${maxBytes} bytes`)
    const data = Buffer.from(base64, 'base64')
    if (data.length > maxBytes) throw new HttpError(413, 'payload_too_large', `image larger than ${maxBytes} bytes`)
    const mime = sniffImage(data)
    if (!mime) throw new HttpError(415, 'unsupported_media_type', 'not a PNG, JPEG, GIF or WebP image (checked by its content)')
    if (mime !== declared) throw invalid(`the content is ${mime}, not ${declared}`)
    const size = imageSize(data, mime)
    if (!size || size.width < 1 || size.height < 1) throw invalid('the image header is truncated or malformed')
    if (size.width > MAX_SIDE || size.height > MAX_SIDE) throw invalid(`image is ${size.width}×${size.height}; at most ${MAX_SIDE} pixels a side`)
    const owner = ownerFor(auth)
    const ownerKey = owner === null ? 'admin' : `t:${owner}`
    const sha256 = createHash('sha256').update(data).digest('hex')
    const existing = await this.deps.db.repo(ShareImageEntity).findOneBy({ ownerKey, sha256 })
    if (existing) return { row: existing, created: false }
    const chunks = Math.ceil(data.length / CHUNK)
    try {
      const row = await this.deps.db.transaction(async (tx) => {
        const inserted = await tx.repo(ShareImageEntity).insert({ ownerTokenId: owner, ownerKey, sha256, name, mime, bytes: data.length, width: size.width, height: size.height, chunks, createdAt: this.deps.clock.now() })
        const id = Number(inserted.identifiers[0]?.id)
        for (let seq = 0; seq < chunks; seq++) await tx.repo(ShareImageChunkEntity).insert({ imageId: id, seq, data: data.subarray(seq * CHUNK, (seq + 1) * CHUNK) })
        return tx.repo(ShareImageEntity).findOneByOrFail({ id })
      })
      return { row, created: true }
    } catch (error) {
      // The same upload raced us (another request or replica): theirs is the image.
      if (!isDuplicate(error)) throw error
      return { row: await this.deps.db.repo(ShareImageEntity).findOneByOrFail({ ownerKey, sha256 }), created: false }
    }
  }

  /** Admin routes: upload, list, one image's metadata, its bytes, delete (409 while a post uses it). */
  routes(): RouteDefinition[] {
    const images = () => this.deps.db.repo(ShareImageEntity)
    const findImage = ({ imageId }: { imageId: number }) => images().findOne({ select: { ownerTokenId: true }, where: { id: imageId } })
    const load = async (id: number): Promise<ShareImageEntity> => {
      const row = await images().findOneBy({ id })
      if (!row) throw ownedNotFound(IMAGE.kind)
      return row
    }
    const one = (mutates: boolean) => ({ roles: ['admin', 'owner'] as const, mutates, owned: { ...IMAGE, param: 'imageId' } })
    return [
      defineRoute({
        method: 'POST', path: '/api/v1/share-images',
        summary: `Upload an image to your content library: { mime: image/png|jpeg|gif|webp, data: base64, name? } up to ${this.deps.maxBytes} bytes (type checked by content); the same image again returns the stored one (created: false)`,
        body: ImageUploadBody, access: { roles: ['admin', 'owner'], mutates: true },
        // base64 is 4/3 of the bytes, plus the JSON around it.
        bodyLimit: Math.ceil(this.deps.maxBytes * 4 / 3) + 4096,
        handler: async ({ body, auth, audit }) => {
          const { row, created } = await this.upload(body.data, body.mime, body.name, auth)
          if (created) audit({ target: `share-image:${row.id}`, after: { mime: row.mime, bytes: row.bytes, sha256: row.sha256 } })
          return { ...imageView(row), created }
        },
      }),
      defineRoute({
        method: 'GET', path: '/api/v1/share-images', summary: 'Your uploaded images (admins: every image), without their bytes',
        access: { roles: ['admin', 'owner'], mutates: false, owned: IMAGE },
        handler: async ({ auth }) => {
          const owner = ownerFor(auth)
          const rows = await images().find({ where: owner === null ? {} : { ownerTokenId: owner }, order: { id: 'ASC' } })
          return { items: rows.map(imageView) }
        },
      }),
      defineRoute({
        method: 'GET', path: '/api/v1/share-images/:imageId', summary: "One image's metadata", params: ImageParams, access: one(false), findOwned: findImage,
        handler: async ({ params }) => imageView(await load(params.imageId)),
      }),
      defineRoute({
        method: 'GET', path: '/api/v1/share-images/:imageId/content', summary: "One image's bytes, base64 (as uploaded)", params: ImageParams, access: one(false), findOwned: findImage,
        handler: async ({ params }) => {
          const stored = await this.load(imageRef((await load(params.imageId)).id))
          if (!stored) throw ownedNotFound(IMAGE.kind)
          return { id: params.imageId, mime: stored.mime, data: stored.data.toString('base64') }
        },
      }),
      defineRoute({
        method: 'DELETE', path: '/api/v1/share-images/:imageId', summary: 'Delete an image (409 while a post uses it)', params: ImageParams, access: one(true), findOwned: findImage,
        handler: async ({ params, audit }) => {
          const row = await load(params.imageId)
          const users = await this.deps.db.repo(SharePostEntity).find({ select: { id: true }, where: { imageId: row.id }, order: { id: 'ASC' } })
          if (users.length > 0) throw new HttpError(409, 'conflict', `image ${row.id} is used by post ${users.map((p) => p.id).join(', ')}; change those posts first`)
          await this.deps.db.transaction(async (tx) => {
            await tx.repo(ShareImageChunkEntity).delete({ imageId: row.id })
            await tx.repo(ShareImageEntity).delete({ id: row.id })
          })
          audit({ target: `share-image:${row.id}`, before: { mime: row.mime, bytes: row.bytes, sha256: row.sha256 } })
          return { deleted: row.id }
        },
      }),
    ]
  }
}
