// Imported, not the global: Node's global Buffer is an accessor, a getter call on every use.
import { Buffer } from 'node:buffer'
import type uWS from 'uWebSockets.js'
import { eventFrameJson, type StoredEvent } from '../history/event.ts'
import type { LiveChannel } from '../subscription/core.ts'
import type { Connection } from './connection.ts'
import type { GatewayCore } from './core.ts'

/**
 * Live fan-out for the WebSocket: the subscription core hands each event over once, in
 * hub order, and it is serialized once per topic and handed to uWS topic publish, which
 * writes straight into every subscriber's socket. A hub batch is not a transaction: a
 * catch-up merges thousands of events into one, more than a fast client can take in one
 * tick. So after every `maxBackpressure / 4` bytes published, the sockets that could
 * have received them are paced (core.pace): one past half the limit leaves live delivery
 * and catches up from the last event it was handed, from the hub's window or the
 * history, as fast as it drains; only a client that stops draining is closed with 4008
 * (I9). uWS would drop silently past its own maxBackpressure, set well above ours, so no
 * socket ever reaches that cap. Revocation cutoffs are the core's: it applies them right
 * after the revoking event passes through here.
 */
export function createDelivery(core: GatewayCore, app: () => uWS.TemplatedApp | undefined): LiveChannel {
  const { stats, index } = core
  const checkEvery = Math.max(1, Math.floor(core.config.maxBackpressure / 4))
  const touched = new Set<string>()
  let sinceCheck = 0
  // Every event up to this one has been published to every socket then on its topics.
  let lastDelivered: string | undefined
  // The topic added to `touched` last (cleared with it).
  let lastTouched: string | undefined

  function checkTopics(topics: Set<string>): void {
    if (lastDelivered === undefined) return
    const seen = new Set<Connection>()
    for (const topic of topics) {
      for (const conn of index.forTopic(topic)) {
        if (seen.has(conn)) continue
        seen.add(conn)
        core.pace(conn, lastDelivered)
      }
    }
    topics.clear()
    lastTouched = undefined
  }

  return {
    deliver(event: StoredEvent) {
      // A conflater's flush hands over older ids after newer ones: the mark only moves on.
      if (lastDelivered === undefined || event.id > lastDelivered) lastDelivered = event.id
      const uws = app()
      if (uws === undefined) return
      const topics = event.topics
      for (let i = 0; i < topics.length; i++) {
        const topic = topics[i]!
        const receivers = uws.numSubscribers(topic)
        if (receivers === 0) continue
        const frame = eventFrameJson(event, topic)
        uws.publish(topic, frame, false)
        const bytes = Buffer.byteLength(frame)
        stats.eventsPublished++
        stats.messagesSent += receivers
        stats.bytesSent += bytes * receivers
        // A batch's events mostly share their topic: the set is touched when it changes.
        if (topic !== lastTouched) {
          touched.add(topic)
          lastTouched = topic
        }
        sinceCheck += bytes
        if (sinceCheck >= checkEvery) {
          checkTopics(touched)
          sinceCheck = 0
        }
      }
    },
    flush() {
      if (touched.size === 0) return
      // uWS queues small published frames per socket and writes them out later in the
      // loop iteration: look again once they are in the buffers.
      const later = new Set(touched)
      setImmediate(() => checkTopics(later))
      checkTopics(touched)
      sinceCheck = 0
    },
  }
}
