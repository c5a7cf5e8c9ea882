import { backoffDelay, DEFAULT_BACKOFF, OverloadStreak, type BackoffPolicy } from './backoff.ts'
import { systemClock } from './clock.ts'
import { CLOSE } from '../protocol/close-codes.ts'
import { afterClose } from './close-policy.ts'
import { openPollingTransport } from './polling-transport.ts'
import { openSseTransport } from './sse-transport.ts'
import { tokenExpiry } from './token.ts'
import type { IncomingFrame, Transport, TransportClose, TransportContext, TransportFactory } from './transport.ts'
import type {
  ClientOptions, EphemeralMessage, EscrowEventMap, FetchLike, PresenceChange, ResetInfo, ServerErrorInfo, Status, StatusInfo, SubscriptionState, TransportName, WalcastClient, WalcastEvent, WebSocketConstructor,
} from './types.ts'
import { openWebSocketTransport } from './websocket-transport.ts'
import { createEphemeralState } from './ephemeral.ts'

const FACTORIES: Record<TransportName, TransportFactory> = {
  websocket: openWebSocketTransport,
  sse: openSseTransport,
  polling: openPollingTransport,
}

type Listener<T extends unknown[]> = (...args: T) => void

/**
 * `M` is the event map of the catalog the server runs (`createClient<ProjectEvents>(…)`);
 * escrow's by default.
 */
export function createClient<M extends object = EscrowEventMap>(options: ClientOptions): WalcastClient<M> {
  if (options.token === undefined && options.getToken === undefined) throw new TypeError('walcast client: pass token or getToken')
  const clock = options.clock ?? systemClock
  const random = options.random ?? Math.random
  const policy: BackoffPolicy = {
    initialMs: options.backoff?.initialMs ?? DEFAULT_BACKOFF.initialMs,
    maxMs: options.backoff?.maxMs ?? DEFAULT_BACKOFF.maxMs,
    maxAttempts: options.backoff?.maxAttempts ?? DEFAULT_BACKOFF.maxAttempts,
    healthyMs: options.backoff?.healthyMs ?? DEFAULT_BACKOFF.healthyMs,
  }
  const overload = new OverloadStreak(policy)
  const WebSocketImpl = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket
  // fetch is global in every browser and in Node 18+.
  const fetchImpl: FetchLike = options.fetch ?? (globalThis.fetch.bind(globalThis) as FetchLike)
  const ladder = (options.transports ?? ['websocket', 'sse', 'polling']).filter((name) => name !== 'websocket' || WebSocketImpl !== undefined)
  const refreshBeforeMs = options.refreshBeforeExpiryMs ?? 30_000
  const upgradeProbeMs = options.upgradeProbeMs ?? 30_000

  const handlers = new Map<string, Set<(event: WalcastEvent<M>) => void>>()
  const lastIds = new Map<string, string | undefined>()
  const statusListeners = new Set<Listener<[StatusInfo]>>()
  const resetListeners = new Set<Listener<[string, ResetInfo]>>()
  const errorListeners = new Set<Listener<[ServerErrorInfo]>>()
  const states = new Map<string, SubscriptionState>()
  const stateListeners = new Set<Listener<[string, SubscriptionState]>>()
  if (options.onReset) resetListeners.add(options.onReset)
  const ephemeral = createEphemeralState(clock)

  let info: StatusInfo = { status: 'connecting', failures: 0 }
  let token = options.token
  let current: Transport | undefined
  let probe: Transport | undefined
  let failures = 0
  // The last connection ended with a terminal close (4029, 1009): opening again does not
  // make up for it, so such closes in a row back off as failed attempts do, up to `failed`.
  let terminalStreak = false
  let closed = false
  let attemptTimer: unknown
  let refreshTimer: unknown
  let probeTimer: unknown
  let attemptSeq = 0

  function emit<T extends unknown[]>(listeners: Set<Listener<T>>, ...args: T): void {
    for (const listener of [...listeners]) {
      try {
        listener(...args)
      } catch (err) {
        // An application bug must not break delivery to everyone else.
        ;(globalThis as { reportError?: (e: unknown) => void }).reportError?.(err)
      }
    }
  }

  function setStatus(status: Status, extra: Partial<StatusInfo> = {}): void {
    info = { status, failures, ...extra }
    emit(statusListeners, info)
  }

  function setState(topic: string, state: SubscriptionState): void {
    const now = states.get(topic)
    if (now !== undefined && now.state === state.state && state.state !== 'refused') return
    states.set(topic, state)
    emit(stateListeners, topic, state)
  }

  /** Confirmed by the server (subscribed, reset, an event or a position of it): live. */
  function confirmed(topic: string): void {
    if (lastIds.has(topic)) setState(topic, LIVE)
  }

  const topicsWithCursor = (): ReadonlyMap<string, string | undefined> => new Map(lastIds)

  function onFrame(from: Transport, frame: IncomingFrame): void {
    if (from !== current && from !== probe) return
    switch (frame.op) {
      case 'event': {
        const topic = frame.topic
        if (!lastIds.has(topic)) return
        const last = lastIds.get(topic)
        // Ids are fixed width: string order is stream order, so this drops every replayed duplicate.
        if (last !== undefined && frame.id <= last) return
        lastIds.set(topic, frame.id)
        confirmed(topic)
        const listeners = handlers.get(topic)
        if (listeners) emit(listeners, frame as unknown as WalcastEvent<M>)
        return
      }
      case 'position':
        // The transport vouches that every event of the topic up to this id was delivered:
        // a topic that had no event of its own still resumes from here after a drop.
        advance(frame.topic, frame.id)
        return confirmed(frame.topic)
      case 'subscribed':
        // Live from `head`: nothing of the topic at or before it is still to come (I3).
        if (frame.head !== undefined) advance(frame.topic, frame.head)
        return confirmed(frame.topic)
      case 'reset': {
        const topic = frame.topic
        if (!lastIds.has(topic)) return
        // The app refetches its state; live events continue after `head`, so the topic
        // resumes from there: forgetting it would let a drop right after the reset skip
        // what was committed meanwhile. Even backwards: after `unknown_position` the old
        // point is not of this stream, and keeping it would filter live events out.
        lastIds.set(topic, frame.head)
        confirmed(topic)
        emit(resetListeners, topic, { reason: frame.reason, head: frame.head })
        return
      }
      case 'unsubscribed':
        if (frame.reason === 'revoked') {
          const message = `access to ${frame.topic} was revoked`
          if (lastIds.has(frame.topic)) setState(frame.topic, { state: 'refused', code: 'revoked', message })
          emit(errorListeners, { topic: frame.topic, code: 'revoked', message })
        }
        return
      case 'ephemeral':
      case 'presence':
        return ephemeral.frame(frame, lastIds.has(frame.topic))
      case 'error':
        if (ephemeral.refused(frame, (error) => emit(errorListeners, error))) return
        // A refused subscribe is the topic's state, not only an error: the connection may be
        // open while this topic is not live (a limit, no access).
        if (frame.topic !== undefined && lastIds.has(frame.topic)) setState(frame.topic, { state: 'refused', code: frame.code, message: frame.message })
        if (frame.code === 'forbidden' && frame.topic !== undefined) dropTopic(frame.topic)
        emit(errorListeners, { ...(frame.topic === undefined ? {} : { topic: frame.topic }), code: frame.code, message: frame.message })
        return
      default:
    }
  }

  /** Moves a topic's resume point forward to `id`, never back. */
  function advance(topic: string, id: string): void {
    if (!lastIds.has(topic)) return
    const last = lastIds.get(topic)
    if (last === undefined || id > last) lastIds.set(topic, id)
  }

  function dropTopic(topic: string): void {
    lastIds.delete(topic)
    handlers.delete(topic)
    current?.unsubscribe(topic)
  }

  function context(attempt: () => boolean, onOpen: (t: Transport) => void, onClosed: (t: Transport, c: TransportClose) => void): (name: TransportName) => Transport {
    return (name) => {
      let transport: Transport | undefined
      const ctx: TransportContext = {
        baseUrl: options.url,
        topics: topicsWithCursor,
        token: () => token ?? '',
        clock,
        fetch: fetchImpl,
        WebSocket: WebSocketImpl,
        pollIntervalMs: options.pollIntervalMs ?? 2000,
        openTimeoutMs: options.openTimeoutMs ?? 10_000,
        handlers: {
          open: () => { if (attempt() && transport) onOpen(transport) },
          frame: (frame) => { if (transport) onFrame(transport, frame) },
          closed: (close) => { if (attempt() && transport) onClosed(transport, close) },
        },
      }
      transport = FACTORIES[name](ctx)
      return transport
    }
  }

  async function ensureToken(force: boolean): Promise<void> {
    if (options.getToken === undefined) return
    const expiry = token === undefined ? undefined : tokenExpiry(token)
    if (force || token === undefined || (expiry !== undefined && expiry - refreshBeforeMs <= clock.now())) {
      token = await options.getToken()
    }
  }

  function scheduleRefresh(): void {
    clock.clearTimeout(refreshTimer)
    if (options.getToken === undefined || token === undefined) return
    const expiry = tokenExpiry(token)
    if (expiry === undefined) return
    refreshTimer = clock.setTimeout(() => {
      ensureToken(true).then(() => {
        if (closed || token === undefined) return
        current?.auth(token)
        scheduleRefresh()
      }, () => { refreshTimer = clock.setTimeout(scheduleRefresh, 1000) })
    }, Math.max(0, expiry - refreshBeforeMs - clock.now()))
  }

  /** One pass down the ladder; the first transport that opens wins. */
  function attempt(forceToken = false): void {
    clock.clearTimeout(attemptTimer)
    if (closed) return
    // A retry() during an attempt abandons it: its candidate must not linger open.
    current?.close()
    current = undefined
    const seq = ++attemptSeq
    const live = (): boolean => seq === attemptSeq && !closed
    const offline = (globalThis as { navigator?: { onLine?: boolean } }).navigator?.onLine === false
    if (offline && typeof globalThis.addEventListener === 'function') {
      setStatus('offline')
      globalThis.addEventListener('online', () => { if (live()) attempt() }, { once: true })
      return
    }
    ensureToken(forceToken).then(() => {
      if (!live()) return
      let opening = true
      const open = context(live, (transport) => {
        if (!opening || transport !== current) return
        opening = false
        if (!terminalStreak) failures = 0
        overload.opened(clock.now())
        setStatus('open', { transport: transport.name })
        scheduleRefresh()
        scheduleProbe()
      }, (transport, close) => {
        if (transport !== current) return
        if (!opening) dropped(close)
        // A server that answered "busy" (503 `overloaded`) before the transport opened is
        // shedding load: the next transport would be refused too, and counting it as a
        // failure would give up on a server that is only busy. Back off as after 1013.
        else if (afterClose(close) === 'overload') {
          opening = false
          dropped(close)
        } else tryNext(ladder.indexOf(transport.name) + 1, close)
      })
      // A new connection asks for every topic again: none is live until it says so.
      for (const topic of lastIds.keys()) setState(topic, PENDING)
      // While trying, `current` is the candidate: its frames count once it opens.
      const tryNext = (index: number, close?: TransportClose): void => {
        if (index >= ladder.length) return failed(close)
        current = open(ladder[index]!)
      }
      tryNext(0)
    }, () => { if (live()) failed() })
  }

  function failed(close?: TransportClose): void {
    current = undefined
    failures++
    if (failures >= policy.maxAttempts) {
      setStatus('failed')
      return
    }
    const delayMs = backoffDelay(policy, failures, random())
    setStatus('reconnecting', { delayMs })
    // A refused token (HTTP 401, WebSocket close 4401): the next attempt fetches a fresh one.
    attemptTimer = clock.setTimeout(() => attempt(close?.status === 401 || close?.code === CLOSE.unauthorized), delayMs)
  }

  function dropped(close: TransportClose): void {
    ephemeral.abandon('the connection dropped')
    current = undefined
    clock.clearTimeout(probeTimer)
    probe?.close()
    probe = undefined
    const action = afterClose(close)
    terminalStreak = action === 'terminal'
    switch (action) {
      case 'terminal':
        return failed(close)
      case 'refresh':
        setStatus('reconnecting', { delayMs: 0 })
        return attempt(true)
      case 'overload': {
        // Shed for load (4008, 1013): coming back at once, or all in one wave, is what
        // overloaded it. Not a failure either; the wait grows while closes keep coming.
        const delayMs = overload.closed(clock.now(), random())
        setStatus('reconnecting', { delayMs })
        attemptTimer = clock.setTimeout(() => attempt(), delayMs)
        return
      }
      case 'reconnect': {
        // Not a failure (it had opened; resuming loses nothing), but not at once either: a
        // restart or a wave of slow-consumer closes must not bring every client back in one instant.
        const delayMs = backoffDelay(policy, 1, random())
        setStatus('reconnecting', { delayMs })
        attemptTimer = clock.setTimeout(() => attempt(), delayMs)
      }
    }
  }

  /** While on a fallback, try WebSocket again now and then; switch when it opens. */
  function scheduleProbe(): void {
    clock.clearTimeout(probeTimer)
    if (current === undefined || current.name === 'websocket' || ladder[0] !== 'websocket') return
    probeTimer = clock.setTimeout(() => {
      const seq = attemptSeq
      const live = (): boolean => seq === attemptSeq && !closed
      const open = context(live, (transport) => {
        if (transport !== probe) return
        const old = current
        current = transport
        probe = undefined
        old?.close()
        setStatus('open', { transport: 'websocket' })
      }, (transport, close) => {
        if (transport === current) return dropped(close)
        probe = undefined
        scheduleProbe()
      })
      probe = open('websocket')
    }, upgradeProbeMs)
  }

  attempt()

  return {
    subscribe(topic, onEvent) {
      let set = handlers.get(topic)
      if (set === undefined) {
        set = new Set()
        handlers.set(topic, set)
      }
      set.add(onEvent)
      if (!lastIds.has(topic)) {
        lastIds.set(topic, undefined)
        setState(topic, PENDING)
        current?.subscribe(topic, undefined)
        probe?.subscribe(topic, undefined)
      }
      return () => {
        set!.delete(onEvent)
        // Refused for good (forbidden): the topic is gone already, only its state is left.
        if (set!.size === 0 && !handlers.has(topic)) states.delete(topic)
        if (set!.size === 0 && handlers.get(topic) === set) {
          handlers.delete(topic)
          lastIds.delete(topic)
          states.delete(topic)
          current?.unsubscribe(topic)
          probe?.unsubscribe(topic)
        }
      }
    },
    get status() { return info.status },
    get transport() { return info.status === 'open' ? current?.name : undefined },
    onStatus(listener) {
      statusListeners.add(listener)
      listener(info)
      return () => statusListeners.delete(listener)
    },
    onReset(listener) {
      resetListeners.add(listener)
      return () => resetListeners.delete(listener)
    },
    onError(listener) {
      errorListeners.add(listener)
      return () => errorListeners.delete(listener)
    },
    lastId: (topic) => lastIds.get(topic),
    subscriptionState: (topic) => states.get(topic),
    onSubscriptionState(listener) {
      stateListeners.add(listener)
      for (const [topic, state] of states) listener(topic, state)
      return () => stateListeners.delete(listener)
    },
    publish: (topic, type, data) => ephemeral.publish(current, topic, type, data),
    onEphemeral: (listener) => ephemeral.onMessage(listener),
    presence: (topic) => ephemeral.presence(current, topic),
    onPresence: (listener) => ephemeral.onPresence(listener),
    retry() {
      if (closed || info.status === 'open') return
      failures = 0
      terminalStreak = false
      overload.reset()
      setStatus('connecting')
      attempt()
    },
    close() {
      closed = true
      ephemeral.abandon('the client was closed')
      attemptSeq++
      for (const timer of [attemptTimer, refreshTimer, probeTimer]) clock.clearTimeout(timer)
      current?.close()
      probe?.close()
      current = undefined
      probe = undefined
    },
  }
}

const LIVE: SubscriptionState = { state: 'live' }
const PENDING: SubscriptionState = { state: 'pending' }
