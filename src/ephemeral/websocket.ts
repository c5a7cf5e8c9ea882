import type { ClientFrame } from '../protocol/client-frames.ts'
import { ephemeralFrame, errorFrame, presenceChangeFrame, presenceListFrame } from '../protocol/server-frames.ts'
import type { Connection } from '../gateway/connection.ts'
import type { GatewayCore } from '../gateway/core.ts'
import type { EphemeralHub } from './hub.ts'
import { dataBytes, SendBudget } from './limits.ts'

/** What the gateway tells the ephemeral layer, and the two client operations it hands over. */
export interface EphemeralSession {
  publish(conn: Connection, frame: Extract<ClientFrame, { op: 'publish' }>): void
  presence(conn: Connection, frame: Extract<ClientFrame, { op: 'presence' }>): void
  /** `conn`'s subscription to `topic` went live for the first time (not again after pacing). */
  live(conn: Connection, topic: string): void
  /** It ended: unsubscribed, revoked or the socket closed. */
  ended(conn: Connection, topic: string): void
  close(): void
}

/**
 * Ephemeral messages and presence on the WebSocket. Publishing needs a live subscription
 * to the topic on this connection: it passed the access check, and a revocation ends it
 * in stream order, so nothing else has to be asked. Messages reach the topic's live
 * sockets only (never one catching up or replaying), are dropped for a socket already
 * past the pacing mark rather than closing it, and may fall anywhere between events: they
 * carry no id and never touch the resume position (I16).
 */
export function createEphemeralSession(core: GatewayCore, hub: EphemeralHub): EphemeralSession {
  const { index, stats } = core
  const budgets = new WeakMap<Connection, Map<string, SendBudget>>()
  const present = new WeakMap<Connection, Set<string>>()
  const paceLevel = Math.floor(core.config.maxBackpressure / 2)

  /** The socket is live on `topic` with a subscription that went live once and was not ended. */
  function holds(conn: Connection, topic: string): boolean {
    const sub = conn.subscriptions.get(topic)
    return sub !== undefined && !sub.cancelled && sub.liveFrom !== undefined
  }

  function fanOut(topic: string, frame: string, origin: number | undefined): void {
    for (const conn of index.forTopic(topic)) {
      if (conn.id === origin || conn.closed || conn.ws === undefined) continue
      // Live only and at most once: a socket that is already behind loses it.
      if (conn.ws.getBufferedAmount() > paceLevel) {
        stats.ephemeralDropped++
        continue
      }
      core.write(conn, frame)
    }
  }

  const offMessage = hub.onMessage((message) => {
    fanOut(message.topic, ephemeralFrame(message.topic, message.type, message.data, message.from, message.ts), message.origin)
  })
  const offPresence = hub.onPresence((event) => {
    fanOut(event.topic, presenceChangeFrame(event.topic, event.change, event.userId), event.origin)
  })

  const refuse = (conn: Connection, code: Parameters<typeof errorFrame>[0], message: string, ref: ClientFrame['ref']): void => {
    stats.ephemeralRefused++
    core.write(conn, errorFrame(code, message, ref))
  }

  return {
    publish(conn, frame) {
      const { topic, type, ref } = frame
      const rules = hub.rules(topic)
      if (rules === undefined) return refuse(conn, 'not_ephemeral', 'this topic takes no ephemeral messages', ref)
      if (!holds(conn, topic)) return refuse(conn, 'forbidden', 'subscribe to the topic first: only a live subscription may send to it', ref)
      if (!rules.events.has(type)) return refuse(conn, 'not_ephemeral', `${JSON.stringify(type)} is not an ephemeral message of this topic (${[...rules.events].join(', ')})`, ref)
      if (dataBytes(frame.data) > rules.maxBytes) return refuse(conn, 'payload_too_large', `data is larger than ${rules.maxBytes} bytes of JSON`, ref)
      let mine = budgets.get(conn)
      if (mine === undefined) budgets.set(conn, (mine = new Map()))
      let budget = mine.get(topic)
      if (budget === undefined) mine.set(topic, (budget = new SendBudget(rules.perSecond, rules.burst)))
      if (!budget.take()) return refuse(conn, 'rate_limited', `slow down: at most ${rules.perSecond} ephemeral messages per second on this topic`, ref)
      stats.ephemeralAccepted++
      hub.publish({ topic, type, data: frame.data ?? null, from: conn.principal.userId, ts: new Date().toISOString(), origin: conn.id })
    },
    presence(conn, frame) {
      const { topic, ref } = frame
      if (hub.rules(topic)?.presence !== true) return refuse(conn, 'not_ephemeral', 'this topic has no presence', ref)
      if (!holds(conn, topic)) return refuse(conn, 'forbidden', 'subscribe to the topic first: only a live subscription may ask who is on it', ref)
      void hub.users(topic).then((users) => { core.write(conn, presenceListFrame(topic, users, ref)) })
    },
    live(conn, topic) {
      if (hub.rules(topic)?.presence !== true) return
      let topics = present.get(conn)
      if (topics === undefined) present.set(conn, (topics = new Set()))
      if (topics.has(topic)) return
      topics.add(topic)
      hub.join(topic, conn.principal.userId, conn.id)
    },
    ended(conn, topic) {
      budgets.get(conn)?.delete(topic)
      if (present.get(conn)?.delete(topic) !== true) return
      hub.leave(topic, conn.principal.userId, conn.id)
    },
    close() {
      offMessage()
      offPresence()
    },
  }
}
