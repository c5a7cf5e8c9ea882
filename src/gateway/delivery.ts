import type uWS from 'uWebSockets.js'
import type { Revocation } from '../auth/authorizer.ts'
import { eventFrameJson, type StoredEvent } from '../history/event.ts'
import type { Connection } from './connection.ts'
import type { GatewayCore } from './core.ts'

export interface Delivery {
  /** The hub listener: publishes each event once per topic to its uWS subscribers. */
  deliver(events: readonly StoredEvent[]): void
  /** The authorizer's listener: ends the user's access at the `party_left` event. */
  revoke(revocation: Revocation): void
}

/**
 * Live fan-out. Each event is serialized once per topic and handed to uWS topic
 * publish, which writes straight into every subscriber's socket. uWS would drop
 * silently past its own maxBackpressure, which is set well above ours: after every
 * `maxBackpressure / 4` bytes published, the sockets that could have received them are
 * checked and the ones past the limit closed with 4008, so none ever reaches uWS's cap.
 *
 * Revocations arrive before the batch that carries the `party_left` (the authorizer
 * listens first); they are applied right after that event is published, so the user
 * gets everything up to and including it and nothing after.
 */
export function createDelivery(core: GatewayCore, app: () => uWS.TemplatedApp | undefined): Delivery {
  const { stats, index } = core
  const checkEvery = Math.max(1, Math.floor(core.config.maxBackpressure / 4))
  let pending: Revocation[] = []
  let scheduled = false

  function applyRevocations(upTo: string | undefined): void {
    if (pending.length === 0) return
    const due = upTo === undefined ? pending : pending.filter((r) => r.eventId <= upTo)
    if (due.length === 0) return
    pending = upTo === undefined ? [] : pending.filter((r) => r.eventId > upTo)
    for (const revocation of due) {
      for (const conn of [...index.forUser(revocation.userId)]) {
        if (conn.subscriptions.has(revocation.topic)) core.cancel(conn, revocation.topic, 'revoked')
      }
    }
  }

  function checkTopics(topics: Set<string>): void {
    const seen = new Set<Connection>()
    for (const topic of topics) {
      for (const conn of index.forTopic(topic)) {
        if (seen.has(conn)) continue
        seen.add(conn)
        core.checkBackpressure(conn)
      }
    }
    topics.clear()
  }

  return {
    deliver(events) {
      const uws = app()
      if (uws !== undefined) {
        const touched = new Set<string>()
        let sinceCheck = 0
        for (const event of events) {
          for (const topic of event.topics) {
            const receivers = uws.numSubscribers(topic)
            if (receivers === 0) continue
            const frame = eventFrameJson(event, topic)
            uws.publish(topic, frame, false)
            const bytes = Buffer.byteLength(frame)
            stats.eventsPublished++
            stats.messagesSent += receivers
            stats.bytesSent += bytes * receivers
            touched.add(topic)
            sinceCheck += bytes
            if (sinceCheck >= checkEvery) {
              checkTopics(touched)
              sinceCheck = 0
            }
          }
          applyRevocations(event.id)
        }
        // uWS queues small published frames per socket and writes them out later in
        // the loop iteration: look again once they are in the buffers.
        if (touched.size > 0) {
          const later = new Set(touched)
          setImmediate(() => checkTopics(later))
        }
        checkTopics(touched)
      }
      applyRevocations(undefined)
    },
    revoke(revocation) {
      // Not live yet (authorizing or replaying): stop it now, the replay re-checks nothing.
      for (const conn of [...index.forUser(revocation.userId)]) {
        const sub = conn.subscriptions.get(revocation.topic)
        if (sub !== undefined && sub.state === 'pending') core.cancel(conn, revocation.topic, 'revoked')
      }
      pending.push(revocation)
      // Normally the hub batch being published applies it; this covers a revocation
      // that arrives outside one.
      if (!scheduled) {
        scheduled = true
        queueMicrotask(() => {
          scheduled = false
          applyRevocations(undefined)
        })
      }
    },
  }
}
