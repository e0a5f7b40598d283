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
})
