import type { Redis } from 'ioredis'
import type { HistoryStore } from '../history/store.ts'
import type { Hub } from '../hub/hub.ts'
import type { Logger } from '../log.ts'
import { formatEventId, parseEventId, ZERO_ID } from '../event-id.ts'
import { newer, nextStep, type ChainCursor } from './chain.ts'
import { decodeEntry, ENTRY_FIELD, type BusEntry } from './entry.ts'

/**
 * - `following`: the hub is fed from the stream;
 * - `polling`: Redis is unreachable, the hub is fed from the history every poll interval;
 * - `idle`: this node's ingest feeds the hub itself;
 * - `starting` / `stopped`.
 */
export type FollowerState = 'starting' | 'following' | 'polling' | 'idle' | 'stopped'

export interface FollowerOptions {
  readonly hub: Hub
  readonly history: HistoryStore
  readonly reader: Redis
  readonly writer: Redis
  /** Both Redis connections are up. */
  readonly connected: () => boolean
  readonly stream: string
  readonly pollMs: number
  readonly log: Logger
  /** A break in the chain (or Redis down) made the follower read from the history. */
  readonly onHistoryRead?: (reason: string) => void
}

export interface BusFollower {
  state(): FollowerState
  /** Redis answers the follower (false while it serves from the history). */
  busUp(): boolean
  /** This node's ingest is about to feed the hub: leave it alone from now on. */
  yieldHub(): void
  /** This node's ingest stopped feeding the hub: follow the bus again. */
  takeHub(): void
  /** Stops at the next turn; the caller closes the Redis connections to cut a blocked read short. */
  stop(): void
  readonly done: Promise<void>
}

/** Entries per XREAD, and how long one blocks (so a stop or a hand-over is seen within it). */
const READ_COUNT = 500
const BLOCK_MS = 1000
/** Events per history read; past this many pages subscriptions replay from the history themselves. */
const FILL_PAGE = 1000
const FILL_PAGES = 20
const ZERO = formatEventId(ZERO_ID)

class RedisFailure extends Error {}

/**
 * Feeds the local hub from the bus stream on every node whose own ingest is not
 * streaming. The chain rule (I12, src/bus/chain.ts) decides for each entry; a break
 * is filled from the history — published through the hub, so revocations and gaps
 * reach every subscription in order — before anything newer. While Redis is down the
 * hub is fed from the history alone; when it is back, the follower re-attaches to the
 * stream, and the chain rule drops what the history already delivered.
 */
export function startBusFollower(options: FollowerOptions): BusFollower {
  const { hub, history, log } = options
  let owner: 'follower' | 'ingest' = 'follower'
  // Bumped whenever the hub changes hands: a step that began under an earlier owner
  // finds out after its await and touches nothing.
  let generation = 0
  let state: FollowerState = 'starting'
  let stopping = false
  let redisFailed = false
  let cursor: ChainCursor = { epoch: undefined, n: 0, position: ZERO, gapEnd: undefined }
  /** The stream id read up to; undefined: attach first. */
  let streamId: string | undefined
  let wake: (() => void) | undefined

  const ingestOwnsHub = (): boolean => owner === 'ingest'
  const mine = (gen: number): boolean => !stopping && owner === 'follower' && gen === generation
  const position = (): string => hub.lastId() ?? ZERO
  // A failure the follower saw says nothing once this node's ingest feeds the hub.
  const busUp = (): boolean => options.connected() && (ingestOwnsHub() || !redisFailed)

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = ms === Infinity ? undefined : setTimeout(resolve, ms)
      wake = () => { clearTimeout(timer); resolve() }
    })
  }

  async function redis<T>(call: () => Promise<T>): Promise<T> {
    try {
      const result = await call()
      redisFailed = false
      return result
    } catch (err) {
      redisFailed = true
      throw new RedisFailure((err as Error).message)
    }
  }

  /**
   * Restarts the hub at the history's head: subscriptions behind it replay the rest
   * from the history (`resync`), or are reset at a gap recorded meanwhile. Access is
   * asked again: revocations in what they replay never passed through this hub.
   */
  async function goLiveFromHistory(gen: number): Promise<void> {
    const [last, gapEnd] = await Promise.all([history.lastId(), history.lastGapEnd()])
    if (!mine(gen)) return
    const previous = hub.lastId()
    const head = formatEventId(last ?? ZERO_ID)
    const newGap = hub.goLive(head, gapEnd)
    cursor = { epoch: undefined, n: 0, position: position(), gapEnd: newer(gapEnd, cursor.gapEnd) ? gapEnd : cursor.gapEnd }
    if (newGap || (previous !== undefined && head > previous)) await hub.fence()
  }

  /**
   * Publishes what the history holds past the hub's position, page by page. A gap the
   * hub has not heard of (read after the events: a gap is durable before any event after
   * it) resets subscriptions there instead.
   */
  async function fill(gen: number): Promise<void> {
    for (let page = 0; page < FILL_PAGES; page++) {
      const events = await history.readAfter(parseEventId(position()), FILL_PAGE)
      const gapEnd = await history.lastGapEnd()
      if (!mine(gen)) return
      if (newer(gapEnd, cursor.gapEnd)) return goLiveFromHistory(gen)
      if (events.length > 0) hub.publish(events)
      if (events.length < FILL_PAGE) {
        cursor = { ...cursor, epoch: undefined, n: 0, position: position() }
        return
      }
    }
    await goLiveFromHistory(gen)
  }

  async function attach(gen: number): Promise<void> {
    // The stream's end first, then the history: every entry after that end is read, and
    // every entry up to it holds only events the history read below already has.
    const newest = await redis(() => options.writer.xrevrange(options.stream, '+', '-', 'COUNT', 1))
    if (!hub.isLive()) await goLiveFromHistory(gen)
    else await fill(gen)
    if (!mine(gen)) return
    streamId = newest[0]?.[0] ?? '0-0'
    cursor = { ...cursor, epoch: undefined, n: 0 }
    if (state !== 'following') log.info({ stream: options.stream, position: position() }, 'following the bus')
    state = 'following'
  }

  async function readStream(gen: number): Promise<void> {
    const from = streamId!
    const result = await redis(() => options.reader.xread('COUNT', READ_COUNT, 'BLOCK', BLOCK_MS, 'STREAMS', options.stream, from))
    for (const [id, fields] of result?.[0]?.[1] ?? []) {
      if (!mine(gen)) return
      await handle(gen, fields)
      streamId = id
    }
  }

  async function handle(gen: number, fields: string[]): Promise<void> {
    let entry: BusEntry
    try {
      entry = decodeEntry(fields[fields.indexOf(ENTRY_FIELD) + 1] ?? '')
    } catch (err) {
      // Not ours to interpret (another version wrote it): the history says what it held.
      log.warn({ err: { message: (err as Error).message } }, 'skipping a bus entry this version cannot read; reading the history instead')
      options.onHistoryRead?.('malformed')
      return fill(gen)
    }
    const step = nextStep({ ...cursor, position: position() }, entry)
    // Already applied: only events past the position (none, unless a stream was rewritten) go on.
    if (step.kind === 'duplicate') {
      if (entry.kind === 'batch') await apply(gen, entry)
      return
    }
    if (step.kind === 'break') {
      log.info({ reason: step.reason, position: position(), prev: entry.prev }, 'bus chain broken; reading what is missing from the history first')
      options.onHistoryRead?.(step.reason)
      // Every event of this entry was durable before it was appended: the fill reaches it.
      await fill(gen)
      if (!mine(gen)) return
    }
    await apply(gen, entry)
    if (mine(gen)) cursor = { ...cursor, epoch: entry.epoch, n: entry.n, position: position() }
  }

  async function apply(gen: number, entry: BusEntry): Promise<void> {
    switch (entry.kind) {
      case 'batch': {
        const after = position()
        const fresh = entry.events[0]!.id > after ? entry.events : entry.events.filter((e) => e.id > after)
        if (fresh.length > 0) hub.publish(fresh)
        return
      }
      case 'live':
        // Another node took the slot: anything it wrote before its first append is read here.
        if (entry.head > position() || newer(entry.gapEnd, cursor.gapEnd)) await fill(gen)
        return
      case 'gap':
        if (!newer(entry.gapEnd, cursor.gapEnd)) return
        cursor = { ...cursor, gapEnd: entry.gapEnd }
        hub.gap(entry.reason, entry.gapEnd!)
        return
      case 'fence':
        await hub.fence()
    }
  }

  let reportedDown = false
  const done = (async () => {
    while (!stopping) {
      const gen = generation
      if (ingestOwnsHub()) {
        state = 'idle'
        streamId = undefined
        await sleep(Infinity)
        continue
      }
      try {
        if (busUp()) {
          reportedDown = false
          if (streamId === undefined) await attach(gen)
          else await readStream(gen)
          continue
        }
        if (!reportedDown) log.warn({ stream: options.stream }, 'bus unreachable; serving from the history until Redis answers again')
        reportedDown = true
        state = 'polling'
        streamId = undefined
        if (!hub.isLive()) await goLiveFromHistory(gen)
        else await fill(gen)
        await sleep(options.pollMs)
        // Try the stream again once the connections are back.
        if (options.connected()) redisFailed = false
      } catch (err) {
        if (stopping) break
        streamId = undefined
        if (!(err instanceof RedisFailure)) log.warn({ err }, 'history read failed while following the bus; retrying')
        await sleep(options.pollMs)
      }
    }
    state = 'stopped'
  })()

  return {
    state: () => state,
    busUp,
    yieldHub() {
      owner = 'ingest'
      generation++
      wake?.()
    },
    takeHub() {
      owner = 'follower'
      generation++
      streamId = undefined
      wake?.()
    },
    stop() {
      stopping = true
      generation++
      wake?.()
    },
    done,
  }
}
