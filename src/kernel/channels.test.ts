import type { ActionKind, Channel, ChannelSink } from './channel'
import { ChannelHost } from './channels'
import type { Logger } from './logger'
import type { OutboundQueue } from './outbound'
import type { MessageProcessor } from './processor'

const quiet: Logger = { error: () => {}, warn: () => {}, info: () => {}, debug: () => {}, child: () => quiet }

/** A channel whose stop, arriving while it starts, does not hold: the start finishing later leaves it connected. */
class SlowChannel implements Channel {
  readonly kind = 'slow'
  readonly capabilities = new Set<ActionKind>()
  connected = false
  stops = 0
  private finish?: () => void
  constructor(readonly botId: string) {}
  get online(): boolean { return this.connected }
  async start(_sink: ChannelSink): Promise<void> {
    await new Promise<void>((resolve) => { this.finish = resolve })
    this.connected = true
  }
  finishStart(): void { this.finish?.() }
  async stop(): Promise<void> { this.stops++; this.connected = false }
  async perform(): Promise<void> {}
}

describe('channel host', () => {
  it('a channel released while it starts is stopped again once its start finished', async () => {
    const queue = { offline: () => undefined, online: () => undefined, abandon: async () => undefined, resume: async () => 0 } as unknown as OutboundQueue
    const host = new ChannelHost({ processor: {} as MessageProcessor, queue, log: quiet, notify: () => undefined })
    const channel = new SlowChannel('a')
    const starting = host.start(channel)
    // The bot's lease is given up in the middle of the start.
    await host.release('a')
    expect([host.get('a'), channel.stops]).toEqual([undefined, 1])
    channel.finishStart()
    await starting
    expect(channel.connected).toBe(false)
    expect(channel.stops).toBe(2)
    // A channel not released is left running.
    const other = new SlowChannel('b')
    const started = host.start(other)
    other.finishStart()
    await started
    expect([other.connected, other.stops, host.get('b')]).toEqual([true, 0, other])
  })
})
