/**
 * A TCP proxy the fault tests control, standing between the replicas and a shared service (MariaDB or
 * Redis). The services on a CI machine are shared with other test runs, so an outage is simulated here,
 * never by stopping the service: `down()` drops every open connection and refuses new ones (the service
 * looks stopped or unreachable), `up()` accepts and forwards again.
 */
import { createServer, connect, type Server, type Socket } from 'node:net'

export class FaultProxy {
  private server?: Server
  private readonly sockets = new Set<Socket>()
  private refusing = false
  /** Connections accepted and forwarded, and connections refused while down. */
  readonly stats = { accepted: 0, refused: 0 }
  port = 0

  constructor(private readonly target: { host: string; port: number }) {}

  /** Listens on an ephemeral port of 127.0.0.1. */
  async start(): Promise<number> {
    const server = createServer((client) => {
      if (this.refusing) { this.stats.refused++; client.destroy(); return }
      this.stats.accepted++
      const upstream = connect(this.target.port, this.target.host)
      this.sockets.add(client)
      this.sockets.add(upstream)
      const close = (): void => { client.destroy(); upstream.destroy(); this.sockets.delete(client); this.sockets.delete(upstream) }
      client.on('error', close)
      upstream.on('error', close)
      client.on('close', close)
      upstream.on('close', close)
      client.pipe(upstream)
      upstream.pipe(client)
    })
    this.server = server
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
    const address = server.address()
    this.port = address && typeof address === 'object' ? address.port : 0
    return this.port
  }

  /** The service goes away: open connections are reset, new ones are closed at once. */
  down(): void {
    this.refusing = true
    for (const s of this.sockets) s.destroy()
    this.sockets.clear()
  }

  /** The service is back. */
  up(): void { this.refusing = false }

  /** `url` with its host and port replaced by this proxy's. */
  rewrite(url: string): string {
    const u = new URL(url)
    u.hostname = '127.0.0.1'
    u.port = String(this.port)
    return u.toString()
  }

  async stop(): Promise<void> {
    this.down()
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()))
  }
}
