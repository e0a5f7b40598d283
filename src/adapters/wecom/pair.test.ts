import type { BotDefinition } from '../../config/config.schema'
import type { ActionKind, Channel, ChannelSink } from '../../kernel/channel'
import type { OutboundAction } from '../../kernel/context'
import { BotLoggedIn, BotLoggedOut, type ChannelEvent } from '../../kernel/events'
import { silentLogger } from '../../kernel/logger'
import { OfflineError } from '../../kernel/outbound'
import { systemClock } from '../../ports/clock'
import { createMemoryPorts } from '../../ports/memory'
import { FakeWecom } from '../../../test/support/fake-wecom'
import { WecomChannel } from './channel'
import { PairedChannel, type LinkStore } from './pair'

/** A puppet account whose login the test switches; it records what it performs. */
class PuppetAccount implements Channel {
  readonly kind = 'puppet-account'
  readonly capabilities = new Set<ActionKind>(['say', 'sayCard', 'sayImage', 'sayDirect', 'remove', 'add', 'tag', 'acceptInvitation'])
  readonly performed: OutboundAction[] = []
  online = false
  private sink?: ChannelSink
  constructor(readonly botId: string) {}
  async start(sink: ChannelSink): Promise<void> { this.sink = sink }
  async stop(): Promise<void> {}
  login(): void { this.online = true; this.sink?.event(BotLoggedIn.of({ id: `p-login-${Date.now()}`, at: Date.now(), botId: this.botId, name: 'puppet' })) }
  logout(): void { this.online = false; this.sink?.event(BotLoggedOut.of({ id: `p-logout-${Date.now()}`, at: Date.now(), botId: this.botId })) }
  async perform(action: OutboundAction): Promise<void> {
    if (!this.online) throw new OfflineError(this.botId)
    this.performed.push(action)
  }
}

describe('channel both: puppet and official API paired', () => {
  let fake: FakeWecom
  beforeAll(async () => { fake = new FakeWecom(); await fake.start() })
  afterAll(async () => { await fake.stop() })

  async function pair(): Promise<{ paired: PairedChannel; puppet: PuppetAccount; events: ChannelEvent[] }> {
    const ports = createMemoryPorts()
    const definition = {
      id: 'corp', puppet: 'mock', tokenEnv: 'X', rulePack: 'default.yaml', groups: 'all', channel: 'both', resolvedPuppet: 'mock', token: null, file: '(test)',
      wecom: { corpId: fake.corpId, secretEnv: 'S', callbackTokenEnv: 'T', aesKeyEnv: 'K', apiBase: fake.base, timestampWindowSeconds: 300, reconcileCron: '*/30 * * * *', inboxPollMs: 50, pairGraceMs: 0, reconcileConcurrency: 4, markTagPerSecond: 5, requestTimeoutMs: 2_000, maxRetries: 0, robots: [{ groupId: 'wrRobot', keyEnv: 'R' }], corpTags: { 活跃: 'etACTIVE01' } },
      wecomSecrets: { secret: fake.secret, callbackToken: 't', encodingAesKey: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG', robotKeys: { wrRobot: 'robot-key-p' } },
    } satisfies BotDefinition
    const official = new WecomChannel({
      definition, clock: systemClock, log: silentLogger,
      coordination: { values: ports.values, leases: ports.leases, dedupe: ports.dedupe, rateLimiter: ports.rateLimiter },
      directory: { groupName: async () => null, activeGroupIds: async () => [] },
    })
    const puppet = new PuppetAccount('corp')
    // No group is linked here (linking runs through the full runtime in test/wecom.test.ts): an empty link store.
    const links: LinkStore = { links: async () => [], linkBy: async () => null, link: async () => undefined, memberLinks: async () => new Map(), linkMembers: async () => undefined }
    const paired = new PairedChannel(puppet, official, {
      store: links, dedupe: ports.dedupe, clock: systemClock, log: silentLogger,
      directory: { activeGroups: async () => [], find: async () => null, members: async () => [] },
    })
    const events: ChannelEvent[] = []
    await paired.start({ message: () => undefined, event: (e) => events.push(e) })
    return { paired, puppet, events }
  }

  it('is logged in while either side is: one login event, a logout only when both are down', async () => {
    const { paired, puppet, events } = await pair()
    expect(events.filter((e) => BotLoggedIn.is(e))).toHaveLength(1)
    puppet.login()
    puppet.logout()
    expect(events.filter((e) => BotLoggedIn.is(e))).toHaveLength(1)
    expect(events.filter((e) => BotLoggedOut.is(e))).toHaveLength(0)
    expect(paired.online).toBe(true)
  })

  it('routes actions: the puppet while online, the group robot when it is not, mapped tags to corp tags', async () => {
    const { paired, puppet } = await pair()
    puppet.login()
    const say = (groupId: string): OutboundAction => ({ kind: 'say', botId: 'corp', groupId, text: 'hi' })
    await paired.perform(say('wrRobot'))
    expect(puppet.performed).toHaveLength(1)
    puppet.logout()
    const before = fake.robotMessages.length
    await paired.perform(say('wrRobot'))
    expect(fake.robotMessages.length).toBe(before + 1)
    // No robot in that group: it waits for the puppet.
    await expect(paired.perform(say('wrOther'))).rejects.toBeInstanceOf(OfflineError)
    await expect(paired.perform({ kind: 'remove', botId: 'corp', groupId: 'wrRobot', memberId: 'wmX', reason: 'spam' })).rejects.toBeInstanceOf(OfflineError)
    fake.customers.set('wmTagged', ['staff-1'])
    puppet.login()
    await paired.perform({ kind: 'tag', botId: 'corp', memberId: 'wmTagged', tag: '活跃' })
    await paired.perform({ kind: 'tag', botId: 'corp', memberId: 'wmTagged', tag: '未映射' })
    expect(fake.markedTags).toEqual([{ userid: 'staff-1', external_userid: 'wmTagged', add_tag: ['etACTIVE01'] }])
    expect(puppet.performed.filter((a) => a.kind === 'tag').map((a) => (a.kind === 'tag' ? a.tag : ''))).toEqual(['未映射'])
    // Untags take the same routes: a mapped tag comes off the corp tag, an unmapped one off the puppet's contact.
    await paired.perform({ kind: 'tag', botId: 'corp', memberId: 'wmTagged', tag: '活跃', remove: true })
    await paired.perform({ kind: 'tag', botId: 'corp', memberId: 'wmTagged', tag: '未映射', remove: true })
    expect(fake.markedTags.slice(1)).toEqual([{ userid: 'staff-1', external_userid: 'wmTagged', remove_tag: ['etACTIVE01'] }])
    expect(fake.customerTags.get('wmTagged')?.size).toBe(0)
    expect(puppet.performed.filter((a) => a.kind === 'tag').map((a) => (a.kind === 'tag' ? `${a.remove ? '-' : '+'}${a.tag}` : ''))).toEqual(['+未映射', '-未映射'])
  })
})
