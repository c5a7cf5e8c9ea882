import WebSocket from 'ws'
import { io, type Socket } from 'socket.io-client'
import { StreamCheck, type EventFrame } from '../../load/lib/stream-check.ts'
import { LatencySample, type Percentiles } from './latencies.ts'
import { signToken } from './token.ts'

/**
 * Now on the wall clock (what Postgres stamped `released_at` with), to a fraction of a ms.
 * `performance.timeOrigin + performance.now()` is not: on these VMs the wall clock drifts
 * from the monotonic one and is stepped after a pause (seen: latencies of −27 s in a run on
 * a contended host). The monotonic reading is re-anchored whenever they part by over 1 ms.
 */
let offset = Date.now() - performance.now()
function wallClockMs(): number {
  const estimate = offset + performance.now()
  const wall = Date.now()
  if (Math.abs(estimate - wall) <= 1) return estimate
  offset = wall - performance.now()
  return wall
}

export type SystemKind = 'walcast' | 'socketio' | 'centrifugo' | 'uws-floor'

export interface ClientSpec {
  readonly user: number
  readonly topics: readonly string[]
  /** The token's role claim (`admin` may subscribe to any escrow). */
  readonly role?: string
  /**
   * Stops reading on pauseSlow() (the slow-consumer phase). Its figures are kept apart in
   * PoolStats.slow, so the pool's own figures describe the other clients only.
   */
  readonly slow?: boolean
  /** The server this client dials instead of the pool's `url` (clients spread over several nodes). */
  readonly url?: string
  /** Its received count and latency are also kept apart under this name (PoolStats.groups). */
  readonly group?: string
}

export interface PoolOptions {
  readonly kind: SystemKind
  /** walcast: ws://127.0.0.1:port/v1/ws; socketio: http://127.0.0.1:port; centrifugo: ws://127.0.0.1:port/connection/websocket */
  readonly url: string
  readonly secret: string
  readonly clients: readonly ClientSpec[]
  /** walcast only: the first subscribe of every topic asks for replay after this id. */
  readonly since?: string
  /** Do not count latency or continuity (idle-connection memory). */
  readonly idle?: boolean
  readonly connectConcurrency?: number
  /**
   * [a, b]: for every event both groups received, the first arrival in b minus the first
   * in a (PoolStats.groupDelta). Pairing by event takes out what both share (the commit →
   * ingest delay), leaving what lies between the groups' servers.
   */
  readonly compareGroups?: readonly [string, string]
}

/** The clients marked `slow`, counted apart from the others. */
export interface SlowGroupStats {
  readonly clients: number
  readonly open: number
  readonly paused: boolean
  readonly received: number
  readonly missing: number
  readonly duplicates: number
  readonly reconnects: number
  /** walcast, centrifugo: WebSocket close codes; socketio: disconnect reasons. */
  readonly closeCodes: Record<string, number>
  readonly lost: number | undefined
}

/** Figures of the clients not marked `slow` (all of them, outside the slow-consumer phase). */
export interface PoolStats {
  readonly clients: number
  readonly open: number
  readonly received: number
  readonly missing: number
  readonly duplicates: number
  readonly resets: number
  readonly reconnects: number
  readonly errors: number
  readonly closeCodes: Record<string, number>
  readonly latency: Percentiles
  readonly firstEventAt: number | undefined
  readonly lastEventAt: number | undefined
  /** Events the writer committed (start, final] that a client never accepted, summed over clients and topics. */
  readonly lost: number | undefined
  /** Present when some clients are marked `slow`. */
  readonly slow: SlowGroupStats | undefined
  /** Per ClientSpec.group: deliveries and latency of that group's clients alone. */
  readonly groups: Record<string, { readonly received: number; readonly latency: Percentiles }>
  /** With PoolOptions.compareGroups: per event, b's first arrival − a's first arrival (ms). */
  readonly groupDelta: Percentiles | undefined
}

/** PoolStats' counts of closes and loss alone (ClientPool.tally). */
export interface PoolTally {
  readonly closeCodes: Record<string, number>
  readonly reconnects: number
  readonly lost: number
  readonly missing: number
  readonly duplicates: number
  readonly resets: number
}

interface Client {
  readonly spec: ClientSpec
  readonly check: StreamCheck
  open: boolean
  /** Where its connection stands (walcast clients): what a client still behind at a phase's bound was doing. */
  readonly trace?: ClientTrace
  drop(): void
  close(): void
  /** Stops reading the socket: the kernel buffers fill and the server sees backpressure. */
  pause(): void
  resume(): void
}

interface SlowTally {
  received: number
  reconnects: number
  readonly closeCodes: Record<string, number>
  baseMissing: number
  baseDuplicates: number
}

/** One walcast client's connection history, for the report of a client still behind (ClientPool.behind). */
export interface ClientTrace {
  dials: number
  subscribes: number
  lastSince: string | undefined
  lastClose: number | undefined
  lastFrameOp: string | undefined
  lastFrameAt: number | undefined
  readyState: number | undefined
}

/** A client not caught up (ClientPool.behind). A `lastSince` left out: its last subscribe asked for no replay. */
export interface BehindClient extends Omit<ClientTrace, 'lastFrameAt'> {
  readonly user: number
  readonly lost: number
  readonly lastId: string | undefined
  readonly msSinceLastFrame: number | undefined
  readonly open: boolean
}

/** Many clients in one process: the benchmark's load generator (bench/lib/load-generator.ts). */
export class ClientPool {
  private readonly clients: Client[] = []
  private readonly latency = new LatencySample()
  private received = 0
  private resets = 0
  private reconnects = 0
  private errors = 0
  private readonly closeCodes: Record<string, number> = {}
  private firstEventAt: number | undefined
  private lastEventAt: number | undefined
  private baseMissing = 0
  private baseDuplicates = 0
  private readonly slow: SlowTally = { received: 0, reconnects: 0, closeCodes: {}, baseMissing: 0, baseDuplicates: 0 }
  private paused = false
  /** Clients away (awayAll): their redial waits for returnAll. */
  private away: Array<() => void> | undefined
  private readonly groups = new Map<string, { received: number; latency: LatencySample }>()
  /** Event id → first arrival in each of the compared groups. */
  private readonly firstArrivals = new Map<string, [number | undefined, number | undefined]>()

  constructor(private readonly options: PoolOptions) {}

  /**
   * Connects every client (the options' clients, or `more` beside those already open);
   * resolves when each has all its topics subscribed. `connected` counts the pool's open
   * clients, earlier ones included.
   */
  async open(timeoutMs: number, more?: readonly ClientSpec[]): Promise<{ connected: number; subscribeMs: Percentiles }> {
    const specs = more ?? this.options.clients
    const concurrency = this.options.connectConcurrency ?? 200
    const times = new LatencySample()
    const deadline = Date.now() + timeoutMs
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < specs.length && Date.now() < deadline) {
        const spec = specs[next++]!
        const started = performance.now()
        const client = await this.connect(spec, Math.max(1000, deadline - Date.now())).catch(() => undefined)
        if (client !== undefined) {
          this.clients.push(client)
          times.add(performance.now() - started)
        } else {
          this.errors++
        }
      }
    }
    await Promise.all(Array.from({ length: concurrency }, worker))
    return { connected: this.clients.length, subscribeMs: times.percentiles() }
  }

  /** Abruptly drops every connection at once; each resumes on its own. */
  dropAll(): void {
    for (const client of this.clients) client.drop()
  }

  /**
   * Every client drops its connection and stays away until returnAll(): what the writer
   * commits meanwhile is what each must recover when they all come back at once.
   */
  awayAll(): void {
    this.away = []
    for (const client of this.clients) client.drop()
  }

  /** The clients away come back at once, each resuming from its last position; returns when (this pool's clock, as lastEventAt). */
  returnAll(): number {
    const dials = this.away ?? []
    this.away = undefined
    const at = wallClockMs()
    for (const dial of dials) dial()
    return at
  }

  /** A dropped client redials now, or when the pool's clients return. */
  private redial(dial: () => void, delayMs: number): void {
    if (this.away !== undefined) this.away.push(dial)
    else setTimeout(dial, delayMs)
  }

  /** The clients marked `slow` stop reading (their sockets stay open). */
  pauseSlow(): void {
    this.paused = true
    for (const client of this.clients) if (client.spec.slow === true) client.pause()
  }

  resumeSlow(): void {
    this.paused = false
    for (const client of this.clients) if (client.spec.slow === true) client.resume()
  }

  resetStats(): void {
    this.latency.clear()
    this.received = 0
    this.groups.clear()
    this.firstArrivals.clear()
    this.firstEventAt = undefined
    this.lastEventAt = undefined
    this.baseMissing = this.sum((c) => c.check.missing)
    this.baseDuplicates = this.sum((c) => c.check.duplicates)
    this.slow.received = 0
    this.slow.baseMissing = this.sum((c) => c.check.missing, true)
    this.slow.baseDuplicates = this.sum((c) => c.check.duplicates, true)
  }

  /** Every latency kept since resetStats (ms): merged over several generators before percentiles are taken. */
  latencySamples(): number[] {
    return this.latency.samples()
  }

  /** Open clients and events received, without the percentiles (cheap enough to poll during a long run). */
  counts(): { open: number; received: number } {
    return { open: this.clients.filter((c) => c.open && c.spec.slow !== true).length, received: this.received }
  }

  /**
   * Closes, reconnects and what is missing, without the percentiles: stats() sorts up to
   * millions of latencies, which a poll many times a second must not cost the clients.
   */
  tally(start: Record<string, number>, final: Record<string, number>): PoolTally {
    const all = this.clients.filter((c) => c.spec.slow !== true)
    let lost = 0
    for (const client of all) {
      for (const topic of client.spec.topics) lost += Math.max(0, (final[topic] ?? 0) - (start[topic] ?? 0) - (client.check.accepted.get(topic) ?? 0))
    }
    return {
      closeCodes: { ...this.closeCodes }, reconnects: this.reconnects, resets: this.resets, lost,
      missing: this.sum((c) => c.check.missing) - this.baseMissing,
      duplicates: this.sum((c) => c.check.duplicates) - this.baseDuplicates,
    }
  }

  /** The clients that still miss events (at most `limit`), with where each connection stands. */
  behind(start: Record<string, number>, final: Record<string, number>, limit = 20): BehindClient[] {
    const out: BehindClient[] = []
    const now = performance.now()
    for (const client of this.clients) {
      if (client.spec.slow === true) continue
      let lost = 0
      for (const topic of client.spec.topics) lost += Math.max(0, (final[topic] ?? 0) - (start[topic] ?? 0) - (client.check.accepted.get(topic) ?? 0))
      if (lost === 0) continue
      // lastFrameAt is this process's clock: only the time since it means anything to the driver.
      const { lastFrameAt, ...trace } = client.trace ?? { dials: 0, subscribes: 0, lastSince: undefined, lastClose: undefined, lastFrameOp: undefined, lastFrameAt: undefined, readyState: undefined }
      out.push({
        user: client.spec.user, lost, open: client.open, ...trace,
        lastId: client.check.lastIds.get(client.spec.topics[0]!),
        msSinceLastFrame: lastFrameAt === undefined ? undefined : Math.round(now - lastFrameAt),
      })
      if (out.length >= limit) break
    }
    return out
  }

  stats(start?: Record<string, number>, final?: Record<string, number>): PoolStats {
    const lost = (slow: boolean): number | undefined => {
      if (start === undefined || final === undefined) return undefined
      let total = 0
      for (const client of this.clients) {
        if ((client.spec.slow === true) !== slow) continue
        for (const topic of client.spec.topics) {
          const expected = (final[topic] ?? 0) - (start[topic] ?? 0)
          total += Math.max(0, expected - (client.check.accepted.get(topic) ?? 0))
        }
      }
      return total
    }
    const slowClients = this.clients.filter((c) => c.spec.slow === true)
    return {
      clients: this.clients.length - slowClients.length,
      open: this.clients.filter((c) => c.open && c.spec.slow !== true).length,
      received: this.received,
      missing: this.sum((c) => c.check.missing) - this.baseMissing,
      duplicates: this.sum((c) => c.check.duplicates) - this.baseDuplicates,
      resets: this.resets,
      reconnects: this.reconnects,
      errors: this.errors,
      closeCodes: this.closeCodes,
      latency: this.latency.percentiles(),
      firstEventAt: this.firstEventAt,
      lastEventAt: this.lastEventAt,
      lost: lost(false),
      slow: slowClients.length === 0 ? undefined : {
        clients: slowClients.length,
        open: slowClients.filter((c) => c.open).length,
        paused: this.paused,
        received: this.slow.received,
        missing: this.sum((c) => c.check.missing, true) - this.slow.baseMissing,
        duplicates: this.sum((c) => c.check.duplicates, true) - this.slow.baseDuplicates,
        reconnects: this.slow.reconnects,
        closeCodes: this.slow.closeCodes,
        lost: lost(true),
      },
      groups: Object.fromEntries([...this.groups].map(([name, g]) => [name, { received: g.received, latency: g.latency.percentiles() }])),
      groupDelta: this.options.compareGroups === undefined ? undefined : this.groupDelta(),
    }
  }

  close(): void {
    for (const client of this.clients) client.close()
  }

  private groupDelta(): Percentiles {
    const deltas = new LatencySample()
    for (const [a, b] of this.firstArrivals.values()) if (a !== undefined && b !== undefined) deltas.add(b - a)
    return deltas.percentiles()
  }

  private sum(pick: (client: Client) => number, slow = false): number {
    let total = 0
    for (const client of this.clients) if ((client.spec.slow === true) === slow) total += pick(client)
    return total
  }

  /** A close (walcast: its code; socketio: the disconnect reason), counted in its group. */
  private countClose(spec: ClientSpec, code: string | number, reconnect: boolean): void {
    if (spec.slow === true) {
      this.slow.closeCodes[code] = (this.slow.closeCodes[code] ?? 0) + 1
      if (reconnect) this.slow.reconnects++
      return
    }
    this.closeCodes[code] = (this.closeCodes[code] ?? 0) + 1
    if (reconnect) this.reconnects++
  }

  private onEvent(spec: ClientSpec, check: StreamCheck, frame: EventFrame): void {
    const now = wallClockMs()
    if (spec.slow === true) {
      // A slow client's latency is its own stall, not the server's: counted apart.
      this.slow.received++
      check.observe(frame, now)
      return
    }
    this.received++
    this.firstEventAt ??= now
    this.lastEventAt = now
    if (this.options.idle === true) return
    const seen = check.observe(frame, now)
    if (seen.latencyMs !== undefined) this.latency.add(seen.latencyMs)
    if (spec.group !== undefined) {
      let group = this.groups.get(spec.group)
      if (group === undefined) this.groups.set(spec.group, group = { received: 0, latency: new LatencySample(1_000_000) })
      group.received++
      if (seen.latencyMs !== undefined) group.latency.add(seen.latencyMs)
      const side = this.options.compareGroups?.indexOf(spec.group) ?? -1
      if (side >= 0) {
        const key = `${frame.topic} ${frame.id}`
        let firsts = this.firstArrivals.get(key)
        if (firsts === undefined) this.firstArrivals.set(key, firsts = [undefined, undefined])
        firsts[side] ??= now
      }
    }
  }

  private async connect(spec: ClientSpec, timeoutMs: number): Promise<Client> {
    const token = await signToken(this.options.secret, String(spec.user), spec.role === undefined ? {} : { role: spec.role })
    if (this.options.kind === 'centrifugo') return this.connectCentrifugo(spec, token, timeoutMs)
    if (this.options.kind === 'socketio') return this.connectSocketIo(spec, token, timeoutMs)
    // The uWS floor speaks the subset of walcast's protocol these clients use.
    return this.connectWalcast(spec, token, timeoutMs)
  }

  private connectWalcast(spec: ClientSpec, token: string, timeoutMs: number): Promise<Client> {
    const check = new StreamCheck()
    let ws: WebSocket
    let closing = false
    let first = true
    let paused = false
    const trace: ClientTrace = { dials: 0, subscribes: 0, lastSince: undefined, lastClose: undefined, lastFrameOp: undefined, lastFrameAt: undefined, readyState: undefined }
    const client: Client = {
      spec,
      check,
      open: false,
      get trace() { return { ...trace, readyState: ws.readyState } },
      drop: () => ws.terminate(),
      close: () => { closing = true; ws.resume(); ws.close(1000) },
      pause: () => { paused = true; ws.pause() },
      resume: () => { paused = false; ws.resume() },
    }
    return new Promise<Client>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('subscribe timed out')), timeoutMs)
      const dial = (): void => {
        trace.dials++
        ws = new WebSocket(`${spec.url ?? this.options.url}?token=${encodeURIComponent(token)}`, { perMessageDeflate: false })
        let pending = spec.topics.length
        ws.on('open', () => {
          if (paused) ws.pause()
          for (const topic of spec.topics) {
            const since = check.lastIds.get(topic) ?? (first ? this.options.since : undefined)
            trace.subscribes++
            trace.lastSince = since
            // batch: a replay comes in batch frames (walcast's SDK asks for them too); other servers ignore it.
            ws.send(JSON.stringify(since === undefined ? { op: 'subscribe', topic, batch: true } : { op: 'subscribe', topic, since, batch: true }))
          }
          first = false
        })
        ws.on('message', (data: Buffer) => {
          const frame = JSON.parse(data.toString()) as { op: string; topic?: string; head?: string; events?: EventFrame[] }
          trace.lastFrameOp = frame.op
          trace.lastFrameAt = performance.now()
          if (frame.op === 'event') this.onEvent(spec, check, frame as EventFrame)
          else if (frame.op === 'events') for (const event of frame.events!) this.onEvent(spec, check, event)
          else if (frame.op === 'subscribed') {
            if (frame.topic !== undefined && frame.head !== undefined) check.live(frame.topic, frame.head)
            if (--pending === 0) {
              client.open = true
              clearTimeout(timer)
              resolve(client)
            }
          } else if (frame.op === 'reset') {
            this.resets++
            if (frame.topic !== undefined) check.restart(frame.topic, frame.head)
          } else if (frame.op === 'error') this.errors++
        })
        ws.on('error', () => { if (!closing) this.errors++ })
        ws.on('close', (code) => {
          client.open = false
          trace.lastClose = code
          this.countClose(spec, code, !closing)
          if (closing) return
          // Every close that was not ours is resumed from the last id seen (the protocol's contract).
          this.redial(dial, code === 1006 ? 0 : 50)
        })
      }
      dial()
    })
  }

  private connectSocketIo(spec: ClientSpec, token: string, timeoutMs: number): Promise<Client> {
    const check = new StreamCheck()
    const socket: Socket = io(this.options.url, {
      transports: ['websocket'],
      auth: { token },
      forceNew: true,
      reconnectionDelay: 50,
      reconnectionDelayMax: 1000,
    })
    let closing = false
    // The engine's WebSocket transport holds a `ws` WebSocket (engine.io-client in Node).
    const transportSocket = (): WebSocket | undefined => (socket.io.engine?.transport as unknown as { ws?: WebSocket } | undefined)?.ws ?? undefined
    const client: Client = {
      spec,
      check,
      open: false,
      drop: () => { socket.io.engine?.close() },
      close: () => { closing = true; transportSocket()?.resume(); socket.close() },
      pause: () => { transportSocket()?.pause() },
      resume: () => { transportSocket()?.resume() },
    }
    socket.on('event', (frame: EventFrame) => this.onEvent(spec, check, frame))
    socket.on('disconnect', (reason) => {
      client.open = false
      this.countClose(spec, reason, !closing)
    })
    return new Promise<Client>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('subscribe timed out')), timeoutMs)
      socket.on('connect', () => {
        if (socket.recovered) {
          client.open = true
          return
        }
        // Not recovered: rooms are gone; join again (whatever was missed is lost).
        let pending = spec.topics.length
        for (const topic of spec.topics) {
          socket.emit('subscribe', { topic }, (reply: { ok: boolean }) => {
            if (!reply.ok) this.errors++
            if (--pending === 0) {
              client.open = true
              clearTimeout(timer)
              resolve(client)
            }
          })
        }
      })
      socket.on('connect_error', () => { this.errors++ })
    })
  }
  /**
   * Centrifugo's bidirectional JSON protocol over `ws`, written out here rather than through
   * the `centrifuge` SDK so that the client does the same work per frame as the walcast one
   * (one `ws` socket, one JSON.parse per message). Connect with the connection JWT, then
   * one subscribe per topic with a subscription JWT for that channel (Centrifugo's way to
   * authorize a channel; the application would check membership before signing it). A
   * resubscribe asks for recovery from the last offset and epoch seen; a reply that is not
   * `recovered` is counted as a reset.
   */
  private async connectCentrifugo(spec: ClientSpec, token: string, timeoutMs: number): Promise<Client> {
    const check = new StreamCheck()
    const channelTokens = await Promise.all(spec.topics.map((topic) => signToken(this.options.secret, String(spec.user), { channel: topic })))
    const positions = new Map<string, { offset: number; epoch: string }>()
    let ws: WebSocket
    let closing = false
    let paused = false
    const client: Client = {
      spec,
      check,
      open: false,
      drop: () => ws.terminate(),
      close: () => { closing = true; ws.resume(); ws.close(1000) },
      pause: () => { paused = true; ws.pause() },
      resume: () => { paused = false; ws.resume() },
    }
    const onPublication = (channel: string, pub: CentrifugoPublication): void => {
      const position = positions.get(channel)
      if (position !== undefined && pub.offset !== undefined) position.offset = pub.offset
      this.onEvent(spec, check, { op: 'event', ...(pub.data as Omit<EventFrame, 'op'>) })
    }
    return new Promise<Client>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('subscribe timed out')), timeoutMs)
      const dial = (): void => {
        ws = new WebSocket(this.options.url, { perMessageDeflate: false })
        let pending = spec.topics.length
        // Command id → the channel its subscribe asked for (and whether it asked to recover).
        const subscribes = new Map<number, { channel: string; recovering: boolean }>()
        ws.on('open', () => {
          if (paused) ws.pause()
          ws.send(JSON.stringify({ id: 1, connect: { token, name: 'walcast-bench' } }))
        })
        ws.on('message', (data: Buffer) => {
          // One WebSocket message may carry several replies, one JSON object per line.
          for (const line of data.toString().split('\n')) {
            if (line === '') continue
            const reply = JSON.parse(line) as CentrifugoReply
            if (reply.push !== undefined) {
              if (reply.push.pub !== undefined && reply.push.channel !== undefined) onPublication(reply.push.channel, reply.push.pub)
            } else if (reply.id === undefined) {
              ws.send('{}') // the server's ping: answer with a pong
            } else if (reply.error !== undefined) {
              this.errors++
            } else if (reply.connect !== undefined) {
              const commands = spec.topics.map((channel, i) => {
                const id = i + 2
                const position = positions.get(channel)
                subscribes.set(id, { channel, recovering: position !== undefined })
                return JSON.stringify({ id, subscribe: { channel, token: channelTokens[i], ...(position === undefined ? {} : { recover: true, offset: position.offset, epoch: position.epoch }) } })
              })
              ws.send(commands.join('\n'))
            } else if (reply.subscribe !== undefined) {
              const asked = subscribes.get(reply.id)
              if (asked === undefined) continue
              const result = reply.subscribe
              if (asked.recovering && result.recovered !== true) {
                this.resets++
                check.restart(asked.channel)
              }
              positions.set(asked.channel, { offset: result.offset ?? 0, epoch: result.epoch ?? '' })
              for (const pub of result.publications ?? []) onPublication(asked.channel, pub)
              if (--pending === 0) {
                client.open = true
                clearTimeout(timer)
                resolve(client)
              }
            }
          }
        })
        ws.on('error', () => { if (!closing) this.errors++ })
        ws.on('close', (code) => {
          client.open = false
          this.countClose(spec, code, !closing)
          if (closing) return
          this.redial(dial, code === 1006 ? 0 : 50)
        })
      }
      dial()
    })
  }
}

interface CentrifugoPublication {
  readonly data: unknown
  readonly offset?: number
}

/** The parts of Centrifugo's JSON protocol replies and pushes this client reads. */
interface CentrifugoReply {
  readonly id?: number
  readonly error?: { readonly code: number; readonly message: string }
  readonly connect?: Record<string, unknown>
  readonly subscribe?: {
    readonly recoverable?: boolean
    readonly epoch?: string
    readonly offset?: number
    readonly recovered?: boolean
    readonly publications?: readonly CentrifugoPublication[]
  }
  readonly push?: { readonly channel?: string; readonly pub?: CentrifugoPublication }
}
