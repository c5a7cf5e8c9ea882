import type uWS from 'uWebSockets.js'
import { eventFrameJson, type StoredEvent } from '../history/event.ts'
import type { LiveChannel } from '../subscription/core.ts'
import type { Connection } from './connection.ts'
import type { GatewayCore } from './core.ts'

/**
 * Live fan-out for the WebSocket: the subscription core hands each event over once, in
 * hub order, and it is serialized once per topic and handed to uWS topic publish, which
 * writes straight into every subscriber's socket. uWS would drop silently past its own
 * maxBackpressure, which is set well above ours: after every `maxBackpressure / 4` bytes
 * published, the sockets that could have received them are checked and the ones past the
 * limit closed with 4008 (I9), so none ever reaches uWS's cap. Revocation cutoffs are the
 * core's: it applies them right after the revoking event passes through here.
 */
export function createDelivery(core: GatewayCore, app: () => uWS.TemplatedApp | undefined): LiveChannel {
  const { stats, index } = core
  const checkEvery = Math.max(1, Math.floor(core.config.maxBackpressure / 4))
  const touched = new Set<string>()
  let sinceCheck = 0

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
    deliver(event: StoredEvent) {
      const uws = app()
      if (uws === undefined) return
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
