import { createHash } from 'node:crypto'
import { PNG } from 'pngjs'
import jpeg from 'jpeg-js'
import { Chat } from '../../../test/support/chat'
import { apiAs, type ApiClient } from '../../../test/support/api'
import { cleanup, COORDINATION, STORAGE } from '../../../test/support/env'
import { G1, G2, TWO_OWNERS } from '../../../test/support/groups'
import type { RehearsalGroup } from '../../simulation/rehearsal'
import { SHARE_TICK_JOB } from './index'
import { imageSize, sniffImage } from './scheduled-share.images'

afterAll(cleanup, 120_000)

const MINUTE = 60_000
const shanghai = (date: string, time = '09:00'): number => Date.parse(`${date}T${time}:00+08:00`)
const GROUPS: RehearsalGroup[] = [
  TWO_OWNERS[0] as RehearsalGroup,
  { id: 'g2', name: '跑步群', members: [{ id: 'alice', name: 'Alice', role: 'owner' }, { id: 'dave', name: 'Dave' }] },
]
/** The upload limit these tests run with (small, so the 413 needs no megabytes). */
const MAX = 8 * 1024

/** A real PNG of the given size (pixels of one colour). */
function png(width: number, height: number, shade = 0): Buffer {
  const image = new PNG({ width, height })
  image.data.fill(shade)
  return PNG.sync.write(image)
}

function jpg(width: number, height: number): Buffer {
  return jpeg.encode({ data: Buffer.alloc(width * height * 4, 128), width, height }, 80).data
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex')
const upload = (api: ApiClient, data: Buffer, mime = 'image/png') => api.post('/api/v1/share-images', { mime, data: data.toString('base64') })

describe('image sniffing', () => {
  it('recognises PNG, JPEG, GIF and WebP by content and reads their size from the header', () => {
    expect([sniffImage(png(3, 2)), imageSize(png(3, 2), 'image/png')]).toEqual(['image/png', { width: 3, height: 2 }])
    expect([sniffImage(jpg(17, 9)), imageSize(jpg(17, 9), 'image/jpeg')]).toEqual(['image/jpeg', { width: 17, height: 9 }])
    const gif = Buffer.from('GIF89a\x05\x00\x07\x00\x80\x00\x00', 'latin1')
    expect([sniffImage(gif), imageSize(gif, 'image/gif')]).toEqual(['image/gif', { width: 5, height: 7 }])
    const webp = Buffer.alloc(30)
    webp.write('RIFF', 0, 'latin1'); webp.write('WEBPVP8X', 8, 'latin1'); webp.writeUIntLE(99, 24, 3); webp.writeUIntLE(49, 27, 3)
    expect([sniffImage(webp), imageSize(webp, 'image/webp')]).toEqual(['image/webp', { width: 100, height: 50 }])
    expect(sniffImage(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'))).toBeNull()
    expect(imageSize(png(3, 2).subarray(0, 18), 'image/png')).toBeNull()
  })
})

describe(`content-library image uploads (${STORAGE} + ${COORDINATION})`, () => {
  let chat: Chat
  afterEach(async () => { await chat?.close() })

  it('stores an owner\'s image once per content, checks type by magic bytes, size and dimensions, and hides it from other owners', async () => {
    chat = await Chat.start({ start: shanghai('2026-11-23', '08:00'), http: true, groups: GROUPS, configOverrides: { api: { imageUploadMaxBytes: MAX } } })
    const alice = await apiAs(chat, 'owner', { groups: [G1, G2], name: 'alice' })
    const dave = await apiAs(chat, 'owner', { groups: [G2], name: 'dave' })
    const image = png(3, 2)
    const first = await upload(alice, image).expect(201)
    expect(first.body).toMatchObject({ mime: 'image/png', bytes: image.length, width: 3, height: 2, sha256: sha(image), ownerTokenId: alice.tokenId, created: true })
    const id = first.body.id as number
    // The same bytes again: the stored image, not a second one.
    expect((await upload(alice, image).expect(201)).body).toMatchObject({ id, created: false })
    expect((await alice.get('/api/v1/share-images').expect(200)).body.items.map((i: { id: number }) => i.id)).toEqual([id])
    const content = await alice.get(`/api/v1/share-images/${id}/content`).expect(200)
    expect(Buffer.from(content.body.data as string, 'base64').equals(image)).toBe(true)
    // Another owner: 404 on every route of it, an empty list, and their own copy of the same bytes.
    for (const path of [`/api/v1/share-images/${id}`, `/api/v1/share-images/${id}/content`]) expect((await dave.get(path)).status).toBe(404)
    expect((await dave.del(`/api/v1/share-images/${id}`)).status).toBe(404)
    expect((await dave.get('/api/v1/share-images').expect(200)).body.items).toEqual([])
    const davesCopy = (await upload(dave, image).expect(201)).body
    expect(davesCopy).toMatchObject({ created: true })
    expect(davesCopy.id).not.toBe(id)

    // Type by content: a PNG declared as JPEG, text declared as PNG, an SVG.
    expect((await upload(alice, image, 'image/jpeg')).status).toBe(400)
    expect((await upload(alice, Buffer.from('not an image at all'))).status).toBe(415)
    expect((await upload(alice, Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'))).status).toBe(415)
    expect((await upload(alice, png(4, 4).subarray(0, 20))).status).toBe(400) // header cut short
    expect((await alice.post('/api/v1/share-images', { mime: 'image/png', data: '###' })).status).toBe(400)
    expect((await alice.post('/api/v1/share-images', { mime: 'image/svg+xml', data: image.toString('base64') })).status).toBe(400)
    // A header claiming 20000 pixels a side.
    const huge = Buffer.from(image); huge.writeUInt32BE(20_000, 16)
    expect((await upload(alice, huge)).body.error.message).toMatch(/at most 10000 pixels/)
    // Size: over the limit by a byte → 413; far over (beyond the route's body limit) → 413 as well.
    const big = Buffer.concat([image, Buffer.alloc(MAX + 1 - image.length)])
    expect((await upload(alice, big)).status).toBe(413)
    expect((await upload(alice, Buffer.concat([image, Buffer.alloc(MAX * 3)]))).status).toBe(413)
    expect((await upload(alice, Buffer.concat([image, Buffer.alloc(MAX - image.length)]))).status).toBe(201) // exactly the limit
    // A JPEG is fine too.
    expect((await upload(alice, jpg(16, 8), 'image/jpeg').expect(201)).body).toMatchObject({ mime: 'image/jpeg', width: 16, height: 8 })

    // Posts: only one's own image, not together with a URL; a used image cannot be deleted.
    expect((await alice.post('/api/v1/share-posts', { title: 'x', text: 'x', imageId: davesCopy.id })).body.error.details).toEqual([{ path: 'body.imageId', message: `${davesCopy.id}: not one of your images` }])
    expect((await alice.post('/api/v1/share-posts', { title: 'x', text: 'x', imageId: id, imageUrl: 'https://example.com/a.png' })).status).toBe(400)
    const postId = (await alice.post('/api/v1/share-posts', { title: 'x', text: 'x', imageId: id }).expect(201)).body.id as number
    expect((await alice.get(`/api/v1/share-posts/${postId}`).expect(200)).body).toMatchObject({ imageId: id, imageUrl: null })
    expect((await alice.del(`/api/v1/share-images/${id}`).expect(409)).body.error.message).toMatch(new RegExp(`used by post ${postId}`))
    await alice.put(`/api/v1/share-posts/${postId}`, { title: 'x', text: 'x' }).expect(200)
    await alice.del(`/api/v1/share-images/${id}`).expect(200)
    expect((await alice.get(`/api/v1/share-images/${id}`)).status).toBe(404)
    expect((await alice.put(`/api/v1/share-posts/${postId}`, { title: 'x', text: 'x', imageId: id })).status).toBe(400)
  })

  it('a scheduled post with an uploaded image arrives through wechaty as that image, bytes intact', async () => {
    chat = await Chat.start({ start: shanghai('2026-11-23', '08:59'), http: true, groups: GROUPS })
    const alice = await apiAs(chat, 'owner', { groups: [G1, G2] })
    const image = png(40, 30, 200)
    const imageId = (await upload(alice, image).expect(201)).body.id as number
    const postId = (await alice.post('/api/v1/share-posts', { title: '早安', text: '早安 {group}', imageId }).expect(201)).body.id as number
    await alice.post('/api/v1/share-schedules', { name: '每日', trigger: { type: 'cron', cron: '0 9 * * *' }, target: { type: 'groups', groupIds: [G1] }, content: { type: 'post', postId }, staggerSeconds: 0 }).expect(201)
    await chat.rehearsal.advanceTo(shanghai('2026-11-23'))
    await chat.runtime.scheduler.runFenced(SHARE_TICK_JOB, new Date(Math.floor(chat.clock.now() / MINUTE) * MINUTE))
    await chat.rehearsal.quiesce()
    const sent = chat.pending().filter((a) => a.groupId === G1)
    expect(sent.map((a) => a.text ?? a.image)).toEqual(['早安 读书会', `share-image-${imageId}.png`])
    expect(sent[1]?.imageSha256).toBe(sha(image))
  })
})
