import type { z } from 'zod'
import { In, LessThan, type FindOptionsWhere } from 'typeorm'
import type { FeatureStore } from '../../adapters/db/feature-store'
import { canSeeOwned, ownerFor, type Principal } from '../../kernel/auth'
import { defineRoute, HttpError, ownedNotFound, type ErrorDetail, type RouteDefinition } from '../../kernel/routes'
import type { Clock } from '../../ports/clock'
import type { EngagementRecorder } from './scheduled-share.engagement'
import type { ShareImages } from './scheduled-share.images'
import { scheduleOf, type ShareEngine } from './scheduled-share.engine'
import { SharePostEntity, ShareScheduleEntity, ShareSendEntity } from './scheduled-share.entity'
import {
  DeliveriesQuery, PauseBody, PostBody, PostParams, PostsQuery, PreviewQuery, ScheduleBody, ScheduleParams, TestSendBody,
  type PostInput, type ScheduleInput,
} from './scheduled-share.schema'

/** Posts and schedules are owned by the token that created them (admins' by no one, visible to admins). */
const POST = { kind: 'share post' }
const SCHEDULE = { kind: 'share schedule' }
const LIST = (owned: { kind: string }) => ({ roles: ['admin', 'owner'] as const, mutates: false, owned })
const ONE = (owned: { kind: string }, param: string, mutates: boolean) => ({ roles: ['admin', 'owner'] as const, mutates, owned: { ...owned, param } })
const MINUTE = 60_000

/** A post as the API shows it. */
function postView(row: SharePostEntity): Record<string, unknown> {
  return {
    id: row.id, ownerTokenId: row.ownerTokenId, title: row.title, text: row.text, imageUrl: row.imageUrl, imageId: row.imageId, card: row.card, tags: row.tags,
    expiresOn: row.expiresOn, createdAt: new Date(row.createdAt).toISOString(), updatedAt: new Date(row.updatedAt).toISOString(),
  }
}

/** A schedule as the API shows it. */
function scheduleView(row: ShareScheduleEntity): Record<string, unknown> {
  const s = scheduleOf(row)
  return {
    id: s.id, ownerTokenId: s.ownerTokenId, name: s.name, enabled: s.enabled, paused: !s.enabled, trigger: s.trigger, timezone: s.timezone,
    target: s.target, content: s.content, noRepeatDays: s.noRepeatDays, staggerSeconds: s.staggerSeconds, graceMinutes: s.graceMinutes,
    version: row.version, createdAt: new Date(row.createdAt).toISOString(), updatedAt: new Date(row.updatedAt).toISOString(),
  }
}

/** A delivery-log row as the API shows it. */
function sendView(row: ShareSendEntity): Record<string, unknown> {
  const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString())
  return {
    id: row.id, scheduleId: row.scheduleId, groupId: row.groupId, fireAt: iso(row.fireAt), fireLocal: row.fireKey, timezone: row.timezone,
    slotAt: iso(row.slotAt), postId: row.postId, status: row.status, reason: row.reason, queuedAt: iso(row.queuedAt), finishedAt: iso(row.finishedAt),
  }
}

function postRow(body: PostInput): Partial<SharePostEntity> {
  return { title: body.title, text: body.text, imageUrl: body.imageUrl, imageId: body.imageId, card: body.card, tags: body.tags, expiresOn: body.expiresOn }
}

function scheduleRow(body: ScheduleInput): Partial<ShareScheduleEntity> {
  return {
    name: body.name, enabled: body.enabled, trigger: body.trigger, timezone: body.timezone, target: body.target, content: body.content,
    noRepeatDays: body.noRepeatDays, staggerSeconds: body.staggerSeconds, graceMinutes: body.graceMinutes,
  }
}

/** Admin routes of scheduled shares: the content library, schedules, preview, test send, delivery log. */
export function shareRoutes(deps: { db: FeatureStore; clock: Clock; engine: ShareEngine; engagement: EngagementRecorder; images: ShareImages }): RouteDefinition[] {
  const posts = () => deps.db.repo(SharePostEntity)
  const schedules = () => deps.db.repo(ShareScheduleEntity)
  const findPost = ({ postId }: z.infer<typeof PostParams>) => posts().findOne({ select: { ownerTokenId: true }, where: { id: postId } })
  const findSchedule = ({ scheduleId }: z.infer<typeof ScheduleParams>) => schedules().findOne({ select: { ownerTokenId: true }, where: { id: scheduleId } })
  const loadPost = async (id: number): Promise<SharePostEntity> => {
    const row = await posts().findOneBy({ id })
    if (!row) throw ownedNotFound(POST.kind)
    return row
  }
  const loadSchedule = async (id: number): Promise<ShareScheduleEntity> => {
    const row = await schedules().findOneBy({ id })
    if (!row) throw ownedNotFound(SCHEDULE.kind)
    return row
  }
  const minute = (): number => Math.floor(deps.clock.now() / MINUTE) * MINUTE

  /** References a schedule may make: the caller's groups and the caller's posts (400s name the field). */
  const checkSchedule = async (body: ScheduleInput, auth: Principal | null): Promise<void> => {
    const problems: ErrorDetail[] = []
    if (body.target.type === 'groups' && auth && !auth.scope.all) {
      for (const g of body.target.groupIds) if (!auth.scope.has(g)) problems.push({ path: 'body.target.groupIds', message: `${g}: not one of your groups` })
    }
    const ids = body.content.type === 'post' ? [body.content.postId] : body.content.type === 'list' ? body.content.postIds : []
    if (ids.length > 0) {
      const found = await posts().find({ select: { id: true, ownerTokenId: true }, where: { id: In(ids) } })
      const mine = new Set(found.filter((p) => canSeeOwned(auth, p.ownerTokenId)).map((p) => p.id))
      const path = body.content.type === 'post' ? 'body.content.postId' : 'body.content.postIds'
      for (const id of ids) if (!mine.has(id)) problems.push({ path, message: `${id}: not one of your posts` })
    }
    if (problems.length > 0) throw new HttpError(400, 'invalid_input', problems.map((p) => `${p.path}: ${p.message}`).join('; '), problems)
  }

  /** A post may use the caller's own uploaded images only (400 otherwise, naming no one else's). */
  const checkPost = async (body: PostInput, auth: Principal | null): Promise<void> => {
    if (body.imageId !== null && !(await deps.images.usable(body.imageId, auth))) {
      throw new HttpError(400, 'invalid_input', `body.imageId: ${body.imageId}: not one of your images`, [{ path: 'body.imageId', message: `${body.imageId}: not one of your images` }])
    }
  }

  return [
    ...deps.images.routes(),
    // ---- content library ----
    defineRoute({
      method: 'GET', path: '/api/v1/share-posts', summary: 'Your content library (admins: every post), optionally by tag',
      query: PostsQuery, access: LIST(POST),
      async handler({ query, auth }) {
        const owner = ownerFor(auth)
        const rows = await posts().find({ where: owner === null ? {} : { ownerTokenId: owner }, order: { id: 'ASC' } })
        return { items: rows.filter((r) => !query.tag || r.tags.includes(query.tag)).map(postView) }
      },
    }),
    defineRoute({
      method: 'POST', path: '/api/v1/share-posts', summary: 'Add a post: text template ({group} {date} {weekday} {time} {members} {checkIns} {topMembers}), optional image and link card, tags, expiry',
      body: PostBody, access: { roles: ['admin', 'owner'], mutates: true },
      async handler({ body, auth, audit }) {
        await checkPost(body, auth)
        const now = deps.clock.now()
        const inserted = await posts().insert({ ...postRow(body), ownerTokenId: ownerFor(auth), createdAt: now, updatedAt: now })
        const row = await posts().findOneByOrFail({ id: Number(inserted.identifiers[0]?.id) })
        audit({ target: `share-post:${row.id}`, after: { title: row.title, tags: row.tags, expiresOn: row.expiresOn } })
        return postView(row)
      },
    }),
    defineRoute({
      method: 'GET', path: '/api/v1/share-posts/:postId', summary: 'One post', params: PostParams, access: ONE(POST, 'postId', false), findOwned: findPost,
      async handler({ params }) { return postView(await loadPost(params.postId)) },
    }),
    defineRoute({
      method: 'PUT', path: '/api/v1/share-posts/:postId', summary: 'Replace a post', params: PostParams, body: PostBody,
      access: ONE(POST, 'postId', true), findOwned: findPost,
      async handler({ params, body, auth, audit }) {
        const before = await loadPost(params.postId)
        await checkPost(body, auth)
        await posts().update({ id: before.id }, { ...postRow(body), updatedAt: deps.clock.now() })
        const after = await posts().findOneByOrFail({ id: before.id })
        audit({ target: `share-post:${before.id}`, before: { title: before.title, tags: before.tags }, after: { title: after.title, tags: after.tags } })
        return postView(after)
      },
    }),
    defineRoute({
      method: 'DELETE', path: '/api/v1/share-posts/:postId', summary: 'Delete a post (planned sends of it are skipped)', params: PostParams,
      access: ONE(POST, 'postId', true), findOwned: findPost,
      async handler({ params, audit }) {
        const before = await loadPost(params.postId)
        await posts().delete({ id: before.id })
        audit({ target: `share-post:${before.id}`, before: { title: before.title, tags: before.tags } })
        return { deleted: before.id }
      },
    }),

    // ---- schedules ----
    defineRoute({
      method: 'GET', path: '/api/v1/share-schedules', summary: 'Your schedules (admins: every schedule)', access: LIST(SCHEDULE),
      async handler({ auth }) {
        const owner = ownerFor(auth)
        const rows = await schedules().find({ where: owner === null ? {} : { ownerTokenId: owner }, order: { id: 'ASC' } })
        return { items: rows.map(scheduleView) }
      },
    }),
    defineRoute({
      method: 'POST', path: '/api/v1/share-schedules', summary: 'Create a schedule (cron or one-off time in the group timezone; targets; content or rotation)',
      body: ScheduleBody, access: { roles: ['admin', 'owner'], mutates: true },
      async handler({ body, auth, audit }) {
        await checkSchedule(body, auth)
        const now = deps.clock.now()
        // The cursor starts now: a new schedule posts from its next fire time on, never the past.
        const inserted = await schedules().insert({ ...scheduleRow(body), ownerTokenId: ownerFor(auth), cursorAt: minute(), version: 1, createdAt: now, updatedAt: now })
        const row = await schedules().findOneByOrFail({ id: Number(inserted.identifiers[0]?.id) })
        audit({ target: `share-schedule:${row.id}`, after: scheduleView(row) })
        return scheduleView(row)
      },
    }),
    defineRoute({
      method: 'GET', path: '/api/v1/share-schedules/:scheduleId', summary: 'One schedule', params: ScheduleParams,
      access: ONE(SCHEDULE, 'scheduleId', false), findOwned: findSchedule,
      async handler({ params }) { return scheduleView(await loadSchedule(params.scheduleId)) },
    }),
    defineRoute({
      method: 'PUT', path: '/api/v1/share-schedules/:scheduleId', summary: 'Replace a schedule (runs already planned keep their post and slot)',
      params: ScheduleParams, body: ScheduleBody, access: ONE(SCHEDULE, 'scheduleId', true), findOwned: findSchedule,
      async handler({ params, body, auth, audit }) {
        const before = await loadSchedule(params.scheduleId)
        await checkSchedule(body, auth)
        const resumed = body.enabled && !before.enabled
        await schedules().update({ id: before.id }, { ...scheduleRow(body), version: before.version + 1, updatedAt: deps.clock.now(), ...(resumed ? { cursorAt: minute() } : {}) })
        const after = await schedules().findOneByOrFail({ id: before.id })
        audit({ target: `share-schedule:${before.id}`, before: scheduleView(before), after: scheduleView(after) })
        return scheduleView(after)
      },
    }),
    defineRoute({
      method: 'PATCH', path: '/api/v1/share-schedules/:scheduleId', summary: 'Pause (enabled: false) or resume a schedule; runs during a pause are not caught up',
      params: ScheduleParams, body: PauseBody, access: ONE(SCHEDULE, 'scheduleId', true), findOwned: findSchedule,
      async handler({ params, body, audit }) {
        const before = await loadSchedule(params.scheduleId)
        const resumed = body.enabled && !before.enabled
        await schedules().update({ id: before.id }, { enabled: body.enabled, version: before.version + 1, updatedAt: deps.clock.now(), ...(resumed ? { cursorAt: minute() } : {}) })
        audit({ target: `share-schedule:${before.id}`, before: { enabled: before.enabled }, after: { enabled: body.enabled } })
        return scheduleView(await schedules().findOneByOrFail({ id: before.id }))
      },
    }),
    defineRoute({
      method: 'DELETE', path: '/api/v1/share-schedules/:scheduleId', summary: 'Delete a schedule (its delivery log stays)', params: ScheduleParams,
      access: ONE(SCHEDULE, 'scheduleId', true), findOwned: findSchedule,
      async handler({ params, audit }) {
        const before = await loadSchedule(params.scheduleId)
        await schedules().delete({ id: before.id })
        audit({ target: `share-schedule:${before.id}`, before: scheduleView(before) })
        return { deleted: before.id }
      },
    }),
    defineRoute({
      method: 'GET', path: '/api/v1/share-schedules/:scheduleId/preview', summary: 'The next runs, per timezone of the target groups (timezone shown)',
      params: ScheduleParams, query: PreviewQuery, access: ONE(SCHEDULE, 'scheduleId', false), findOwned: findSchedule,
      async handler({ params, query }) {
        const row = await loadSchedule(params.scheduleId)
        return { scheduleId: row.id, paused: !row.enabled, zones: await deps.engine.preview(scheduleOf(row), query.count) }
      },
    }),
    defineRoute({
      method: 'POST', path: '/api/v1/share-schedules/:scheduleId/test-send', summary: "Send the schedule's post (or a given post of yours) to one of your groups now",
      params: ScheduleParams, body: TestSendBody, access: ONE(SCHEDULE, 'scheduleId', true), findOwned: findSchedule, status: 202,
      async handler({ params, body, auth, audit }) {
        const row = await loadSchedule(params.scheduleId)
        if (auth && !auth.scope.has(body.groupId)) throw new HttpError(400, 'invalid_input', 'body.groupId: not one of your groups', [{ path: 'body.groupId', message: 'not one of your groups' }])
        const s = scheduleOf(row)
        const postId = body.postId ?? (s.content.type === 'post' ? s.content.postId : s.content.type === 'list' ? s.content.postIds[0] : undefined)
        if (postId === undefined) throw new HttpError(400, 'invalid_input', 'body.postId: required for tag and weekday rotations', [{ path: 'body.postId', message: 'required for tag and weekday rotations' }])
        const post = await posts().findOneBy({ id: postId })
        if (!post || !canSeeOwned(auth, post.ownerTokenId)) throw new HttpError(400, 'invalid_input', 'body.postId: not one of your posts', [{ path: 'body.postId', message: `${postId}: not one of your posts` }])
        const result = await deps.engine.testSend(row.id, body.groupId, post)
        audit({ groupId: body.groupId, target: `share-schedule:${row.id}`, after: { testSend: result.sendId, postId } })
        return { scheduleId: row.id, groupId: body.groupId, postId, ...result }
      },
    }),
    defineRoute({
      method: 'GET', path: '/api/v1/share-schedules/:scheduleId/deliveries', summary: 'Delivery log: one row per run and group (planned / queued / sent / failed / skipped / missed, with the reason), newest first',
      params: ScheduleParams, query: DeliveriesQuery, access: ONE(SCHEDULE, 'scheduleId', false), findOwned: findSchedule,
      async handler({ params, query, auth }) {
        const row = await loadSchedule(params.scheduleId)
        if (query.groupId && auth && !auth.scope.has(query.groupId)) return { scheduleId: row.id, items: [], nextBefore: null, counts: {} }
        const where: FindOptionsWhere<ShareSendEntity> = { scheduleId: row.id }
        if (query.status) where.status = query.status
        if (query.groupId) where.groupId = query.groupId
        if (query.before) where.id = LessThan(query.before)
        const rows = await deps.db.repo(ShareSendEntity).find({ where, order: { id: 'DESC' }, take: query.limit })
        // Groups the caller no longer sees stay out of the log (owners lose groups).
        const visible = rows.filter((r) => !auth || auth.scope.has(r.groupId))
        // Counted per group, so the counts too cover only the groups the caller sees.
        const perGroup: Array<{ status: string; group_id: string; n: number | string }> = await deps.db.query('SELECT status, group_id, COUNT(*) AS n FROM qy_share_send WHERE schedule_id = ? GROUP BY status, group_id', [row.id])
        const counts: Record<string, number> = {}
        for (const c of perGroup) if (!auth || auth.scope.has(c.group_id)) counts[c.status] = (counts[c.status] ?? 0) + Number(c.n)
        return {
          scheduleId: row.id, items: visible.map(sendView),
          nextBefore: rows.length === query.limit ? (rows[rows.length - 1]?.id ?? null) : null,
          counts,
        }
      },
    }),
    defineRoute({
      method: 'GET', path: '/api/v1/share-schedules/:scheduleId/engagement', summary: 'Post lift: messages and distinct members in the 30 minutes after posts vs. the same window on runs without a post, overall and per post',
      params: ScheduleParams, access: ONE(SCHEDULE, 'scheduleId', false), findOwned: findSchedule,
      async handler({ params, auth }) {
        const row = await loadSchedule(params.scheduleId)
        return deps.engagement.report(row.id, (groupId) => !auth || auth.scope.has(groupId))
      },
    }),
  ]
}
