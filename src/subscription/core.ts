import type { Authorizer, Revocation } from '../auth/authorizer.ts'
import { formatEventId, gapMark, parseEventId, ZERO_ID } from '../event-id.ts'
import type { Principal } from '../auth/principal.ts'
import type { StoredEvent } from '../history/event.ts'
import type { HistoryStore } from '../history/store.ts'
import type { Hub, HubSignal } from '../hub/hub.ts'
import type { Logger } from '../log.ts'
import { conflatedHistory, conflatedHub, conflatedStart, stateHistory, type CoreConflation } from './conflation.ts'
import { createConflater } from './conflater.ts'
import type { FollowChange, FollowSets } from './follow-sets.ts'
import { createFollowTracker } from './follow-tracker.ts'
import { readMerged } from './merged-read.ts'
import { replayThenGoLive, type ReplayTarget } from './replay.ts'
import { unresumableReason, type ResetReason } from './resume-rule.ts'
import { createSubscriberIndex } from './subscriber-index.ts'
import { withCoalescedHorizon } from './coalesced-reads.ts'
import { gatedHistory, type ReadGate, type ReadGateStats } from './read-gate.ts'

/**
 * What the core needs of a transport for one subscription (a WebSocket topic, an SSE
 * stream of several). Frames, flow control and closing are the transport's; what to
 * send when is the core's.
 */
export interface SubscriberSink extends Pick<ReplayTarget, 'send' | 'fits' | 'drained' | 'taken'> {
  /**
   * Live delivery to this subscriber alone (SSE). Without it the transport delivers live
   * events itself through a LiveChannel (WebSocket: uWS topics).
   */
  deliver?(event: StoredEvent, topics: readonly string[]): void
  closed(): boolean
  /** Live from here: every event after `head` arrives through live delivery. */
  live(head: string, again: boolean): void
  /** Leaves live delivery for a resync (a replay follows, then `live` again). */
  leaveLive?(): void
  /** The stream of `topic` cannot be proven complete up to `head`: the client refetches. */
  reset(topic: string, reason: ResetReason, head: string): void
  /** `topic` is no longer readable: nothing of it after this point. */
  revoked(topic: string): void
  /** The database failed while the subscription was set up. */
  failed(err: unknown): void
  /** The client took nothing for the stall limit during a replay: close as a slow consumer (I9). */
  stalled(): void
}

/** A transport's own live fan-out (uWS topic publish): called once per event, in order. */
export interface LiveChannel {
  deliver(event: StoredEvent): void
  /** After each batch (backpressure checks). */
  flush?(): void
}

export type SubscriberState = 'authorizing' | 'pending' | 'live' | 'ended'

export interface Subscriber {
  principal: Principal
  /** The topics as the client named them, follow sets among them. */
  readonly topics: Set<string>
  /** The event topics it reads: its plain topics and every follow set's members. */
  readonly reads: Set<string>
  /** Each follow set it holds → the member topics it stands for now. */
  readonly follows: Map<string, Set<string>>
  readonly sink: SubscriberSink
  state: SubscriberState
  /** A gap was signalled while it was not live yet: it ends its replay with `reset`. */
  gapPending: boolean
}

export interface PollPage {
  readonly events: readonly StoredEvent[]
  readonly next: string
  readonly reset: ResetReason | undefined
}

export interface SubscriptionCore {
  /**
   * Registers a subscription before anything async happens, so a revocation that lands
   * while its access is checked is not missed (I7).
   */
  register(principal: Principal, topics: readonly string[], sink: SubscriberSink): Subscriber
  /** The first of its topics the principal may not read, or undefined. */
  authorize(sub: Subscriber): Promise<string | undefined>
  /** Resume check, replay, then live: the same answer on every transport. Never rejects. */
  start(sub: Subscriber, since: string | undefined): Promise<void>
  /** Ends it: no more deliveries or signals. Idempotent. */
  end(sub: Subscriber): void
  /**
   * The transport paused live delivery to `sub` (its client reads slower than events
   * arrive) after handing it every event up to `after`: it catches up from there at the
   * client's pace (hub window or history), then goes live again, with no frame of its own.
   */
  fallBehind(sub: Subscriber, after: string): void
  addChannel(channel: LiveChannel): () => void
  /** One polling page of `topic` after `after`, with the same resume rule. */
  page(topic: string, after: string | undefined, limit: number): Promise<PollPage>
  canRead(principal: Principal, topic: string): Promise<boolean>
  /** Whether `topic` is a follow set (its events are delivered to each subscriber directly). */
  isFollow(topic: string): boolean
  /** The subscriber's topics `event` is delivered under: its own, and each follow set holding one. */
  topicsFor(sub: Subscriber, event: StoredEvent): readonly string[]
  /** The position live subscriptions stand at (the hub's newest id). */
  head(): string
  /** Whether `topic` is conflated (I17): live, the latest event per key; resumed, the state. */
  isConflated(topic: string): boolean
  /** The history reads of subscriptions: running, queued, refused for waiting too long. */
  readStats(): ReadGateStats
  close(): void
}

export interface CoreOptions {
  readonly hub: Hub
  readonly history: HistoryStore
  readonly authorizer: Authorizer
  readonly log: Logger
  /** Events per replay page. */
  readonly pageSize: number
  /** Bytes a replay fills a buffer to before it waits for the client to drain. */
  readonly drainLevel: number
  /** How long a replaying client may take no bytes before it is closed as a slow consumer. */
  readonly stallMs: number
  /** The catalog's follow sets (src/subscription/follow-sets.ts); none without. */
  readonly follows?: FollowSets
  /** The catalog's conflated topics (src/subscription/conflation.ts); none without. */
  readonly conflation?: CoreConflation
  /** Bounds and queues the history reads of resumes, replays and polling (src/subscription/read-gate.ts); unbounded without. */
  readonly reads?: ReadGate
}

/**
 * A conflated topic's state reads: first the wait for its state to be built (holding no
 * turn), then a turn at the read gate.
 */
function stateReads(conflation: CoreConflation, gate: ReadGate | undefined): CoreConflation {
  if (conflation.ready === undefined && gate === undefined) return conflation
  const read: CoreConflation['readLatest'] = gate === undefined ? (topic, after, limit) => conflation.readLatest(topic, after, limit) : (topic, after, limit) => gate.run(() => conflation.readLatest(topic, after, limit))
  return {
    ...conflation,
    readLatest(topic, after, limit) {
      const waiting = conflation.ready?.(topic)
      return waiting === undefined ? read(topic, after, limit) : waiting.then(() => read(topic, after, limit))
    },
  }
}

/**
 * The one subscription core every transport uses: access, the resume rule, replay
 * paging, the replay→live switch, live delivery in hub order, revocation cutoff, live
 * gap resets and resync after a takeover (docs/invariants.md). Create it after the
 * authorizer, so the authorizer has seen a `party_left` before the core delivers it.
 */
export function createSubscriptionCore(options: CoreOptions): SubscriptionCore {
  const { hub, authorizer, log } = options
  // A resume storm asks the horizon once per subscribe: those asking together share a read.
  // A conflated topic's history reads are its state (latest per key): replay and polling
  // serve it through the same code as any log.
  // Each read takes a turn at the gate, a coalesced one a single turn for all who share it.
  const gate = options.reads
  const coalesced = withCoalescedHorizon(gate === undefined ? options.history : gatedHistory(options.history, gate))
  const conflation = options.conflation === undefined ? undefined : stateReads(options.conflation, gate)
  const history = conflation === undefined ? coalesced : conflatedHistory(coalesced, conflation)
  const follows = options.follows
  const index = createSubscriberIndex()
  // Copied on change (rare), so the per-event loops walk an array, with no Set iterator each.
  let channels: readonly LiveChannel[] = []
  const replayContext = { hub: options.conflation === undefined ? hub : conflatedHub(hub, options.conflation), history, pageSize: options.pageSize, drainLevel: options.drainLevel, stallMs: options.stallMs }
  // A subscription of conflated topics only is a state: the prune horizon does not apply to it.
  const stateJudge = options.conflation === undefined ? history : stateHistory(history)
  const stateReplayContext = { ...replayContext, history: stateJudge }
  let pendingRevocations: Revocation[] = []
  let revocationScheduled = false
  let closed = false

  // Functions, not inline checks: a subscription's state changes across every await.
  const over = (sub: Subscriber): boolean => sub.state === 'ended' || sub.sink.closed()
  const stopped = (sub: Subscriber): boolean => over(sub) || sub.gapPending
  const followed = createFollowTracker(follows, index, over)
  const topicsFor = followed.topicsFor
  const conflater = options.conflation === undefined ? undefined : createConflater({ everyMs: options.conflation.everyMs, keyFields: options.conflation.keyFields, deliver: deliverFlush })
  // The id of the last event the hub handed over: every event held later is after it.
  let lastSeen = ZERO
  const conflatedOnly = (sub: Subscriber): boolean => conflater !== undefined && sub.reads.size > 0 && [...sub.reads].every((topic) => conflater.isConflated(topic))
  const resolveFollows = followed.resolve

  function goLive(sub: Subscriber, again: boolean): void {
    if (sub.state === 'ended') return
    sub.state = 'live'
    index.setLive(sub, true)
    sub.sink.live(hub.head()!, again)
  }

  function resetAndGoLive(sub: Subscriber, reason: ResetReason, again: boolean): void {
    sub.gapPending = false
    const head = hub.head()!
    // After `reset` the client refetches its state as of `head`; it stays subscribed.
    for (const topic of [...sub.topics]) sub.sink.reset(topic, reason, head)
    if (!sub.sink.closed()) goLive(sub, again)
  }

  async function catchUp(sub: Subscriber, since: string, again: boolean): Promise<void> {
    for (;;) {
      if (!hub.isLive()) await hub.whenLive()
      if (over(sub)) return
      if (!hub.isLive()) continue
      // The hub knows the gaps for a position its window covers (one read fewer); the
      // replay's later pages are judged against the history they were read from.
      const state = conflatedOnly(sub)
      const reason = sub.gapPending ? 'stream_gap' : await unresumableReason(state ? stateJudge : history, since, hub.head()!, hub)
      if (over(sub)) return
      if (reason !== undefined) return resetAndGoLive(sub, reason, again)
      // Called through the sink, which may keep its methods on a prototype (one per
      // WebSocket subscription: per-connection memory).
      const { sink } = sub
      const target: ReplayTarget = {
        topics: () => [...sub.reads], stopped: () => stopped(sub),
        send: (events, stopAbove) => sink.send(events, stopAbove), fits: (events) => sink.fits(events), drained: () => sink.drained(),
        ...(sink.taken === undefined ? {} : { taken: () => sink.taken!() }),
      }
      const outcome = await replayThenGoLive(state ? stateReplayContext : replayContext, target, since, () => goLive(sub, again))
      if (outcome.kind === 'reset') return resetAndGoLive(sub, outcome.reason, again)
      if (outcome.kind === 'stalled') return sub.sink.stalled()
      if (outcome.kind === 'stopped' && sub.gapPending && !over(sub)) return resetAndGoLive(sub, 'stream_gap', again)
      return
    }
  }

  async function startFrom(sub: Subscriber, since: string | undefined, again: boolean): Promise<void> {
    try {
      // Membership events passed by while this hub was not streaming: ask again.
      if (again) await resolveFollows(sub)
      // A conflated topic is a state: a new subscription is served it first (I17).
      if (since === undefined && conflatedOnly(sub)) since = await conflatedStart(history)
      if (since !== undefined) return await catchUp(sub, since, again)
      for (;;) {
        if (!hub.isLive()) await hub.whenLive()
        if (over(sub)) return
        // Without `since` the subscription starts at the head: nothing to prove.
        if (hub.isLive()) return goLive(sub, again)
      }
    } catch (err) {
      if (over(sub)) return
      // Stopping closes the database under a replay: the client reconnects elsewhere.
      if (!closed) log.error({ err }, 'subscription failed while it was set up')
      sub.sink.failed(err)
    }
  }

  function dropTopic(sub: Subscriber, topic: string): void {
    if (!sub.topics.delete(topic)) return
    followed.drop(sub, topic)
  }

  function revoke(sub: Subscriber, topic: string): void {
    if (!sub.topics.has(topic)) return
    dropTopic(sub, topic)
    sub.sink.revoked(topic)
  }

  function applyRevocations(upTo: string | undefined): void {
    if (pendingRevocations.length === 0) return
    const due = upTo === undefined ? pendingRevocations : pendingRevocations.filter((r) => r.eventId <= upTo)
    if (due.length === 0) return
    pendingRevocations = upTo === undefined ? [] : pendingRevocations.filter((r) => r.eventId > upTo)
    for (const revocation of due) {
      for (const sub of index.forUser(revocation.userId)) {
        if (sub.topics.has(revocation.topic) && authorizer.revokes(sub.principal, revocation)) revoke(sub, revocation.topic)
      }
    }
  }

  // Revocations arrive while the hub publishes the revoking event, before this core's
  // batch listener delivers it: live subscriptions get everything up to and including
  // that event and nothing after (I7); one not live yet is refused at once.
  const unsubscribeRevoke = authorizer.onRevoke((revocation) => {
    for (const sub of index.forUser(revocation.userId)) {
      if (sub.state !== 'live' && sub.topics.has(revocation.topic) && authorizer.revokes(sub.principal, revocation)) revoke(sub, revocation.topic)
    }
    pendingRevocations.push(revocation)
    // Normally the batch being published applies it; this covers one outside a batch.
    if (!revocationScheduled) {
      revocationScheduled = true
      queueMicrotask(() => {
        revocationScheduled = false
        applyRevocations(undefined)
      })
    }
  })

  function deliverDirect(event: StoredEvent): void {
    if (event.topics.length === 1) {
      const topic = event.topics[0]!
      const subs = index.liveDirect(topic)
      // Most events have no direct (SSE, polling) subscriber: no iterator for an empty set.
      if (subs.size === 0) return
      for (const sub of subs) sub.sink.deliver!(event, sub.follows.size === 0 ? [topic] : topicsFor(sub, event))
      return
    }
    let seen: Set<Subscriber> | undefined
    for (const topic of event.topics) {
      const subs = index.liveDirect(topic)
      if (subs.size === 0) continue
      for (const sub of subs) {
        seen ??= new Set()
        if (seen.has(sub)) continue
        seen.add(sub)
        sub.sink.deliver!(event, topicsFor(sub, event))
      }
    }
  }

  /** A conflater's flush: the latest event of each held key, in id order, to every transport. */
  function deliverFlush(events: readonly StoredEvent[]): void {
    for (const event of events) {
      for (const channel of channels) channel.deliver(event)
      deliverDirect(event)
    }
    for (const channel of channels) channel.flush?.()
  }

  const unsubscribeHub = hub.subscribe((events) => {
    for (let i = 0; i < events.length; i++) {
      const raw = events[i]!
      // A grant joins the set before its event, which is delivered; a revocation leaves it
      // after its event, the last one of that topic the set carries.
      const changes = follows === undefined ? NO_CHANGES : follows.changes(raw)
      for (let c = 0; c < changes.length; c++) if (changes[c]!.kind === 'add') followed.apply(changes[c]!)
      // A conflated topic's share waits for the next flush; the event's other topics go now.
      const event = conflater === undefined ? raw : conflater.take(raw, lastSeen)
      lastSeen = raw.id
      if (event !== undefined) {
        for (let c = 0; c < channels.length; c++) channels[c]!.deliver(event)
        deliverDirect(event)
      }
      for (let c = 0; c < changes.length; c++) if (changes[c]!.kind === 'remove') followed.apply(changes[c]!)
      applyRevocations(raw.id)
    }
    for (const channel of channels) channel.flush?.()
    applyRevocations(undefined)
  })

  /** A live subscription that has every event up to `from` replays the rest, then goes live again. */
  function rewind(sub: Subscriber, from: string): void {
    if (sub.state !== 'live') return
    // Held events are up to `from` but not delivered: a conflated topic catches up from
    // before them, or their keys would end on an older value (I17).
    const held = conflater?.heldAfter()
    if (held !== undefined && held < from && conflatedOnly(sub)) from = held
    sub.state = 'pending'
    index.setLive(sub, false)
    sub.sink.leaveLive?.()
    void startFrom(sub, from, true)
  }

  function onSignal(signal: HubSignal): void {
    if (signal.kind === 'gap') {
      for (const sub of index.all()) {
        if (sub.state === 'live') {
          for (const topic of [...sub.topics]) sub.sink.reset(topic, 'stream_gap', signal.head)
        } else if (sub.state === 'pending') {
          sub.gapPending = true
        }
      }
    } else if (signal.kind === 'live') {
      if (signal.head > lastSeen) lastSeen = signal.head
    } else if (signal.kind === 'resync') {
      // Another instance streamed while this one did not: live subscriptions caught up to
      // `from` replay the rest from the history, then go live again (I5).
      for (const sub of index.all()) rewind(sub, signal.from)
    }
  }
  const unsubscribeSignal = hub.onSignal(onSignal)
  // A TRUNCATE (or changes lost with a slot) may have ended memberships with no
  // party_left to cut them off at: every subscription's access is asked again before the
  // ingest publishes anything later (I7).
  const unsubscribeFence = hub.onFence(async () => {
    await Promise.all(index.all().map((sub) => recheckAccess(sub)))
  })

  // A hub no ingest feeds knows no head; the history does (its newest event, or the
  // newest gap's mark when that is later).
  async function historyHead(): Promise<string> {
    const [last, gapEnd] = await Promise.all([history.lastId(), history.lastGapEnd()])
    const newest = last === undefined ? ZERO : formatEventId(last)
    const mark = gapEnd === undefined ? undefined : gapMark(gapEnd)
    return mark !== undefined && mark > newest ? mark : newest
  }

  async function recheckAccess(sub: Subscriber): Promise<void> {
    try {
      for (const topic of [...sub.topics]) {
        const allowed = await authorizer.canRead(sub.principal, topic)
        if (!allowed && sub.state !== 'ended') revoke(sub, topic)
      }
      await resolveFollows(sub)
    } catch (err) {
      // Unproven access is no access: the client reconnects and is asked again.
      if (!closed) log.error({ err }, 'access re-check failed; closing the subscription')
      if (sub.state !== 'ended') sub.sink.failed(err)
    }
  }

  /** One page of a topic, or of a follow set's members now, merged in id order: one cursor. */
  async function readTopic(topic: string, after: string | undefined, limit: number): Promise<{ events: readonly StoredEvent[]; complete: boolean }> {
    if (follows === undefined || !follows.isFollow(topic)) {
      const events = await history.readSince(topic, after === undefined ? ZERO_ID : parseEventId(after), limit)
      return { events, complete: events.length < limit }
    }
    const page = await readMerged(history, await follows.members(topic), after ?? ZERO, limit)
    if (page.events.length <= limit) return page
    return { events: page.events.slice(0, limit), complete: false }
  }

  return {
    register(principal, topics, sink) {
      const followed = topics.filter((topic) => follows?.isFollow(topic) === true)
      const sub: Subscriber = {
        principal, topics: new Set(topics), sink, state: 'authorizing', gapPending: false,
        reads: new Set(topics.filter((topic) => !followed.includes(topic))),
        // Entries are only ever set for the follow sets named here: with none, one empty
        // map serves every subscriber (a map each is per-connection memory, bench §4).
        follows: followed.length === 0 ? NO_FOLLOWS : new Map(followed.map((topic) => [topic, new Set<string>()])),
      }
      index.add(sub)
      return sub
    },
    async authorize(sub) {
      for (const topic of [...sub.topics]) {
        if (!(await authorizer.canRead(sub.principal, topic))) return topic
      }
      // Registered first, so a membership event during the query is not missed.
      await resolveFollows(sub)
      return undefined
    },
    start(sub, since) {
      if (sub.state === 'authorizing') sub.state = 'pending'
      return startFrom(sub, since, false)
    },
    end(sub) {
      if (sub.state === 'ended') return
      sub.state = 'ended'
      index.remove(sub)
    },
    fallBehind: rewind,
    addChannel(channel) {
      if (!channels.includes(channel)) channels = [...channels, channel]
      return () => {
        channels = channels.filter((c) => c !== channel)
      }
    },
    async page(topic, after, limit) {
      const head = hub.isLive() ? hub.head()! : await historyHead()
      const judge = conflater?.isConflated(topic) === true ? stateJudge : history
      if (after !== undefined) {
        const reason = await unresumableReason(judge, after, head)
        if (reason !== undefined) return { events: [], next: head, reset: reason }
      }
      if (limit === 0) return { events: [], next: head, reset: undefined }
      const { events, complete } = await readTopic(topic, after, limit)
      if (after !== undefined) {
        // Asked again after the read: a prune that ran in between leaves a hole (I4).
        const reason = await unresumableReason(judge, after, head)
        if (reason !== undefined) return { events: [], next: head, reset: reason }
      }
      const lastRead = events.length > 0 ? events[events.length - 1]!.id : after
      // A short page has seen every event of the topic up to the head read before it.
      const next = complete ? (lastRead !== undefined && lastRead > head ? lastRead : head) : lastRead!
      return { events, next, reset: undefined }
    },
    canRead: (principal, topic) => authorizer.canRead(principal, topic),
    isFollow: (topic) => follows?.isFollow(topic) === true,
    topicsFor,
    head: () => hub.head() ?? ZERO,
    isConflated: (topic) => conflater?.isConflated(topic) === true,
    readStats: () => gate?.stats() ?? { running: 0, waiting: 0, shed: 0 },
    close() {
      if (closed) return
      closed = true
      conflater?.close()
      unsubscribeHub()
      unsubscribeSignal()
      unsubscribeFence()
      unsubscribeRevoke()
      channels = []
    },
  }
}

const ZERO = formatEventId(ZERO_ID)
// What an event changes of follow sets without any: one shared array, not one per event.
const NO_CHANGES: readonly FollowChange[] = Object.freeze([])

const NO_FOLLOWS: Map<string, Set<string>> = new Map()
