import { eventFrameJson, type StoredEvent } from '../history/event.ts'

/**
 * SSE text for one event on the subscribed topics it belongs to. An event on two topics
 * is two messages; only the last carries `id:`, so a stream cut between them resumes
 * with the first again rather than losing the second. Serialized once per event and
 * topic set, whatever the number of streams (the hub hands every listener the same object).
 */
const cache = new WeakMap<StoredEvent, Map<string, string>>()

export function sseEventText(event: StoredEvent, topics: readonly string[]): string {
  const key = topics.join('\n')
  let forEvent = cache.get(event)
  const cached = forEvent?.get(key)
  if (cached !== undefined) return cached
  let text = ''
  topics.forEach((topic, index) => {
    const id = index === topics.length - 1 ? `id: ${event.id}\n` : ''
    text += `${id}event: ${event.type}\ndata: ${eventFrameJson(event, topic)}\n\n`
  })
  if (forEvent === undefined) {
    forEvent = new Map()
    cache.set(event, forEvent)
  }
  forEvent.set(key, text)
  return text
}

export function sseControlText(name: 'subscribed' | 'reset' | 'unsubscribed' | 'close', frame: Record<string, unknown>): string {
  return `event: ${name}\ndata: ${JSON.stringify(frame)}\n\n`
}
