import type { IncomingFrame, Transport } from './transport.ts'
import type { Clock, EphemeralMessage, PresenceChange, ServerErrorInfo } from './types.ts'
import { systemClock } from './clock.ts'

type Frame<Op extends IncomingFrame['op']> = Extract<IncomingFrame, { op: Op }>

/** How long `presence()` waits for its answer. */
export const PRESENCE_TIMEOUT_MS = 10_000
/** Refs of recent publishes kept to name the topic of a refusal; successes are never answered. */
const KEPT_REFS = 256

/**
 * The SDK's side of ephemeral messages and presence: nothing here touches a topic's resume
 * point (an ephemeral frame has no id). Publishes carry a ref so a refusal names its
 * topic; presence queries are matched to their answers by ref.
 */
export function createEphemeralState(clock: Clock = systemClock) {
  const messageListeners = new Set<(message: EphemeralMessage) => void>()
  const presenceListeners = new Set<(change: PresenceChange) => void>()
  const publishes = new Map<string, string>()
  const queries = new Map<string, { resolve: (users: string[]) => void; reject: (err: Error) => void; timer: unknown }>()
  let seq = 0

  const call = <T>(listeners: Set<(value: T) => void>, value: T): void => {
    for (const listener of [...listeners]) {
      try {
        listener(value)
      } catch (err) {
        ;(globalThis as { reportError?: (e: unknown) => void }).reportError?.(err)
      }
    }
  }

  return {
    publish(transport: Transport | undefined, topic: string, type: string, data: unknown): boolean {
      const ref = `e${++seq}`
      if (transport?.send?.({ op: 'publish', topic, type, ...(data === undefined ? {} : { data }), ref }) !== true) return false
      publishes.set(ref, topic)
      if (publishes.size > KEPT_REFS) publishes.delete(publishes.keys().next().value!)
      return true
    },
    presence(transport: Transport | undefined, topic: string): Promise<string[]> {
      const ref = `q${++seq}`
      if (transport?.send?.({ op: 'presence', topic, ref }) !== true) return Promise.reject(new Error('walcast client: presence needs an open WebSocket connection'))
      return new Promise((resolve, reject) => {
        const timer = clock.setTimeout(() => {
          queries.delete(ref)
          reject(new Error(`walcast client: no presence answer for ${topic}`))
        }, PRESENCE_TIMEOUT_MS)
        queries.set(ref, { resolve, reject, timer })
      })
    },
    /** An `ephemeral` or `presence` frame; `subscribed`: the client holds the topic. */
    frame(frame: Frame<'ephemeral' | 'presence'>, subscribed: boolean): void {
      if (frame.op === 'presence' && frame.users !== undefined) {
        const query = typeof frame.ref === 'string' ? queries.get(frame.ref) : undefined
        if (query === undefined) return
        queries.delete(frame.ref as string)
        clock.clearTimeout(query.timer)
        query.resolve([...frame.users])
        return
      }
      if (!subscribed) return
      if (frame.op === 'ephemeral') return call(messageListeners, { topic: frame.topic, type: frame.type, data: frame.data, from: frame.from, ts: frame.ts })
      if (frame.joined !== undefined) call(presenceListeners, { topic: frame.topic, joined: frame.joined })
      else if (frame.left !== undefined) call(presenceListeners, { topic: frame.topic, left: frame.left })
    },
    /** A refusal of a publish (reported with its topic) or of a presence query (rejected); false for any other error. */
    refused(frame: Frame<'error'>, report: (error: ServerErrorInfo) => void): boolean {
      if (typeof frame.ref !== 'string') return false
      const query = queries.get(frame.ref)
      if (query !== undefined) {
        queries.delete(frame.ref)
        clock.clearTimeout(query.timer)
        query.reject(Object.assign(new Error(frame.message), { code: frame.code }))
        return true
      }
      const topic = publishes.get(frame.ref)
      if (topic === undefined) return false
      publishes.delete(frame.ref)
      report({ topic, code: frame.code, message: frame.message })
      return true
    },
    abandon(why: string): void {
      for (const [ref, query] of queries) {
        queries.delete(ref)
        clock.clearTimeout(query.timer)
        query.reject(new Error(`walcast client: ${why} before the presence answer`))
      }
    },
    onMessage(listener: (message: EphemeralMessage) => void): () => void {
      messageListeners.add(listener)
      return () => messageListeners.delete(listener)
    },
    onPresence(listener: (change: PresenceChange) => void): () => void {
      presenceListeners.add(listener)
      return () => presenceListeners.delete(listener)
    },
  }
}
