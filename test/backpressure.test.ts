/**
 * Backpressure on the message path: each group's queue is bounded (`pipeline.maxQueuePerGroup`). A group
 * that falls behind sheds what arrives while it is full — said in the log and in the metrics, never
 * silently — and its dedupe mark is forgotten, so a redelivered copy is processed once there is room.
 * Other groups go on meanwhile. Real runtime, real wechaty on the mock puppet, real features.
 */
import { defineFeature } from '../src/adapters/db/feature-store'
import type { RuntimeObservation } from '../src/kernel/channels'
import type { Logger } from '../src/kernel/logger'
import { FEATURES } from '../src/features'
import { alice, bob, Chat } from './support/chat'

/** Holds every message saying `slow` until `release()` — a group whose processing fell behind. */
let release: () => void = () => undefined
let gate: Promise<void> = Promise.resolve()
const slowFeature = defineFeature({
  name: 'slow-probe',
  setup() {
    return {
      async middleware(ctx, next) {
        if (ctx.message.text === 'slow') await gate
        await next()
      },
    }
  },
})

const carol = { id: 'carol', name: '小雨🌸' }

describe('backpressure: bounded per-group queues', () => {
  let chat: Chat
  afterEach(async () => { await chat?.close() })

  it('sheds what reaches a full group (result, metric, log), keeps other groups going, and processes a redelivered copy later', async () => {
    gate = new Promise((resolve) => { release = resolve })
    const warnings: Array<{ message: string; meta: Record<string, unknown> }> = []
    const log: Logger = {
      error: () => undefined, info: () => undefined, debug: () => undefined,
      warn: (message, meta) => { warnings.push({ message, meta: meta ?? {} }) },
      child: () => log,
    }
    chat = await Chat.start({
      features: [...FEATURES, slowFeature],
      configOverrides: { pipeline: { maxQueuePerGroup: 3 } },
      log,
      groups: [
        { id: 'g1', name: '慢群', members: [{ id: 'alice', name: 'Alice', role: 'owner' }, { id: 'bob', name: '阿强' }, { id: 'carol', name: '小雨🌸' }] },
        { id: 'g2', name: '快群', members: [{ id: 'alice', name: 'Alice', role: 'owner' }, { id: 'bob', name: '阿强' }] },
      ],
    })
    const results = new Map<string, string[]>()
    chat.runtime.observe((o: RuntimeObservation) => {
      if (o.kind === 'message') results.set(o.id, [...(results.get(o.id) ?? []), o.result])
    })
    const world = chat.rehearsal.world
    // g1: one message blocks the group, two more wait behind it — the queue (3) is full.
    world.say('g1', alice.id, 'slow', 'q1')
    world.say('g1', alice.id, '签到', 'q2')
    world.say('g1', bob.id, '签到', 'q3')
    // These arrive at a full group: shed.
    world.say('g1', carol.id, '签到', 'q4')
    world.say('g1', carol.id, 'hello', 'q5')
    // g2 is not held up by g1. (Nothing here may wait for the whole runtime to be idle: g1 is blocked.)
    world.say('g2', bob.id, '签到', 'p1')
    const seen = (id: string) => chat.rehearsal.waitFor((o) => o.kind === 'message' && o.id === id, id)
    await Promise.all([seen('p1'), seen('q4'), seen('q5')])
    expect(results.get('q4')).toEqual(['shed'])
    expect(results.get('q5')).toEqual(['shed'])
    expect(results.get('p1')).toEqual(['processed'])
    expect(results.has('q2')).toBe(false)

    const shedWarning = warnings.find((w) => w.message.startsWith('group queue full'))
    expect(shedWarning?.meta).toMatchObject({ group: 'g1@chatroom', maxQueuePerGroup: 3, queued: 3 })
    const metrics = (await chat.runtime.metrics?.render())?.body ?? ''
    expect(metrics).toMatch(/qunyun_messages_total\{result="shed"[^}]*\} 2/)
    expect(metrics).toMatch(/qunyun_message_queue_deepest_group\{[^}]*\} 3/)

    // The group catches up; the shed check-in is redelivered by the platform and processed this time.
    release()
    await chat.rehearsal.waitFor((o) => o.kind === 'message' && o.id === 'q3')
    await chat.rehearsal.redeliver('g1', carol.id, '签到', 'q4')
    expect(results.get('q4')).toEqual(['shed', 'processed'])
    await chat.rehearsal.advance(60_000)
    chat.group('g2').expectReply(/签到/, bob)
    const g1 = chat.group('g1')
    g1.expectReply(/签到/, alice)
    // Bob's and Carol's answers share one batched reply.
    expect(g1.expectReply(/签到/, bob).mentions).toContain(carol.id)
    // A copy redelivered again now is a plain duplicate.
    await chat.rehearsal.redeliver('g1', carol.id, '签到', 'q4')
    expect(results.get('q4')).toEqual(['shed', 'processed', 'duplicate'])
  })

  it('a full group sheds its oldest waiting plain message, not an arriving command; commands are kept', async () => {
    gate = new Promise((resolve) => { release = resolve })
    chat = await Chat.start({
      features: [...FEATURES, slowFeature],
      configOverrides: { pipeline: { maxQueuePerGroup: 3 } },
      groups: [{ id: 'g1', name: '慢群', members: [{ id: 'alice', name: 'Alice', role: 'owner' }, { id: 'bob', name: '阿强' }, { id: 'carol', name: '小雨🌸' }] }],
    })
    const results = new Map<string, string[]>()
    chat.runtime.observe((o: RuntimeObservation) => {
      if (o.kind === 'message') results.set(o.id, [...(results.get(o.id) ?? []), o.result])
    })
    const world = chat.rehearsal.world
    const seen = (id: string) => chat.rehearsal.waitFor((o) => o.kind === 'message' && o.id === id, id)
    // Running: the slow one; waiting: a plain message, then bob's check-in. The queue (3) is full.
    world.say('g1', alice.id, 'slow', 's1')
    world.say('g1', alice.id, '今天天气不错', 's2')
    world.say('g1', bob.id, '签到', 's3')
    // Carol's check-in arrives at the full group: the oldest plain message (s2) gives it its place.
    world.say('g1', carol.id, '签到', 's4')
    await seen('s2')
    expect(results.get('s2')).toEqual(['shed'])
    // A plain message arriving while only commands wait is itself shed.
    world.say('g1', carol.id, '哈哈', 's5')
    await seen('s5')
    expect(results.get('s5')).toEqual(['shed'])
    expect(results.has('s3')).toBe(false)
    expect(results.has('s4')).toBe(false)
    release()
    await Promise.all([seen('s3'), seen('s4')])
    expect(results.get('s3')).toEqual(['processed'])
    expect(results.get('s4')).toEqual(['processed'])
    await chat.rehearsal.advance(60_000)
    // Both check-ins were recorded and answered.
    chat.group('g1').expectReply(/签到/, bob)
    chat.group('g1').expectReply(/签到/, carol)
    // The shed plain message's mark was forgotten: a redelivered copy is processed now.
    await chat.rehearsal.redeliver('g1', alice.id, '今天天气不错', 's2')
    expect(results.get('s2')).toEqual(['shed', 'processed'])
  })
})
