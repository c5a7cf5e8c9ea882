// Imported, not the global (an accessor): every replayed frame asks for its byte length.
import { Buffer } from 'node:buffer'
import { formatEventId, formatLsn, type EventId } from '../event-id.ts'

/** An event as the history stores it and the hub publishes it. Immutable once built. */
export interface StoredEvent {
  readonly id: string
  readonly lsn: bigint
  readonly seq: number
  readonly topics: readonly string[]
  readonly type: string
  readonly data: Readonly<Record<string, unknown>>
  /** Commit time of the source transaction, ISO-8601. */
  readonly ts: string
  /**
   * `data` as JSON text: serialized once when the event is made (the history append and
   * every frame splice it in), or as it came back from Postgres when read from the history.
   */
  readonly dataJson?: string
}

// The events of one transaction share its commit time: format it once, not per event.
let lastCommitMs = Number.NaN
let lastCommitIso = ''

export function makeEvent(
  id: EventId,
  draft: { type: string; topics: readonly string[]; data: Readonly<Record<string, unknown>> },
  committedAt: Date,
): StoredEvent {
  const topics = draft.topics.length === 1 ? oneTopic(draft.topics[0]!) : draft.topics
  return new MadeEvent(formatEventId(id), id.lsn, id.seq, topics, draft.type, commitIso(committedAt), JSON.stringify(draft.data))
}

// A mapper makes a new topic string and array for every event; the hub's window then kept
// thousands of copies of the same few. One frozen array per topic instead (bounded like
// the JSON texts below; after a clear the hot topics come back at once).
const singleTopics = new Map<string, readonly string[]>()

function oneTopic(topic: string): readonly string[] {
  let topics = singleTopics.get(topic)
  if (topics === undefined) {
    if (singleTopics.size >= TEXTS_MAX) singleTopics.clear()
    topics = Object.freeze([topic])
    singleTopics.set(topic, topics)
  }
  return topics
}

/**
 * A live event keeps its payload as the JSON text every consumer on the live path reads
 * (the append, the frames, the bus); `data` is parsed back from it only when asked for
 * (follow-set and revocation events, conflation keys, polling). Holding the mapper's object
 * instead kept it, and every column string in it, alive for as long as the hub's window
 * holds the event: promoted out of the young generation, the largest share of the GC's
 * work per live event. Parsed from the text, `data` is what clients are sent.
 */
class MadeEvent implements StoredEvent {
  #data: Readonly<Record<string, unknown>> | undefined = undefined
  constructor(
    readonly id: string,
    readonly lsn: bigint,
    readonly seq: number,
    readonly topics: readonly string[],
    readonly type: string,
    readonly ts: string,
    readonly dataJson: string,
  ) {}

  get data(): Readonly<Record<string, unknown>> {
    this.#data ??= JSON.parse(this.dataJson) as Record<string, unknown>
    return this.#data
  }
}

/**
 * `event` under fewer topics (a conflater's share). Spelled out, not spread: a spread
 * copies own properties only, and a live event's `data` is not one (MadeEvent).
 */
export function withTopics(event: StoredEvent, topics: readonly string[]): StoredEvent {
  return { id: event.id, lsn: event.lsn, seq: event.seq, topics, type: event.type, data: event.data, ts: event.ts, ...(event.dataJson === undefined ? {} : { dataJson: event.dataJson }) }
}

function commitIso(committedAt: Date): string {
  const ms = committedAt.getTime()
  // An invalid date is NaN, never equal: toISOString throws for it as before.
  if (ms !== lastCommitMs) {
    lastCommitIso = committedAt.toISOString()
    lastCommitMs = ms
  }
  return lastCommitIso
}

/** The wire form of an event for one topic (WebSocket `event` frame, SSE data, polling). */
export function eventFrame(event: StoredEvent, topic: string): Record<string, unknown> {
  return { op: 'event', id: event.id, topic, type: event.type, data: event.data, ts: event.ts, lsn: formatLsn(event.lsn) }
}

/** `JSON.stringify(eventFrame(event, topic))`, without touching `data` when its text is at hand. */
export function eventFrameJson(event: StoredEvent, topic: string): string {
  if (event.dataJson === undefined) return JSON.stringify(eventFrame(event, topic))
  // Live delivery asks for an event's frames one topic after another: what does not depend
  // on the topic is serialized once per event, and the topic's text once per topic.
  if (event !== lastFramed) {
    // An id is formatEventId's hex and dash (every StoredEvent's is): nothing to escape.
    lastHead = `{"op":"event","id":"${event.id}","topic":`
    lastTail = `,"type":${stringJson(event.type)},"data":${event.dataJson},"ts":${tsJson(event.ts)},"lsn":"${lsnText(event.lsn)}"}`
    lastFramed = event
  }
  return lastHead + topicJson(topic) + lastTail
}

let lastFramed: StoredEvent | undefined
let lastHead = ''
let lastTail = ''

// Bounded: topics are as many as rows; the hot ones come back at once after a clear.
// Event types share the map: they are few, and a string's JSON text is the same whatever it names.
const stringTexts = new Map<string, string>()
const TEXTS_MAX = 4096

/** `JSON.stringify(text)`, remembered for the topics and event types that come back. */
export function stringJson(text: string): string {
  let json = stringTexts.get(text)
  if (json === undefined) {
    if (stringTexts.size >= TEXTS_MAX) stringTexts.clear()
    json = JSON.stringify(text)
    stringTexts.set(text, json)
  }
  return json
}

const topicJson = stringJson

// A transaction's events share their commit time, the same string: its JSON text once.
let lastTs: string | undefined
let lastTsJson = ''

function tsJson(ts: string): string {
  if (ts !== lastTs) {
    lastTsJson = JSON.stringify(ts)
    lastTs = ts
  }
  return lastTsJson
}

// Frames are built in id order, a transaction's events one after another: its LSN is
// formatted once, not per event.
let lastLsn = -1n
let lastLsnText = ''

/** `formatLsn`, remembering the last LSN formatted (a transaction's events share theirs). */
export function lsnText(lsn: bigint): string {
  if (lsn !== lastLsn) {
    lastLsnText = formatLsn(lsn)
    lastLsn = lsn
  }
  return lastLsnText
}

export interface SerializedFrame {
  readonly topic: string
  readonly json: string
  /** UTF-8 length of `json`. */
  readonly bytes: number
}

// Keyed by the event object, so a frame lives exactly as long as the event it was made of.
const serializedFrames = new WeakMap<StoredEvent, SerializedFrame>()

/**
 * The event frame for `topic`, serialized once however many sockets it is written to: a
 * resume storm replays the same window events to every client of a topic, and a replay
 * asks for each frame's size before it sends it. Kept for the event's first topic asked.
 */
export function serializedEventFrame(event: StoredEvent, topic: string): SerializedFrame {
  const cached = serializedFrames.get(event)
  if (cached !== undefined && cached.topic === topic) return cached
  const json = eventFrameJson(event, topic)
  const frame = { topic, json, bytes: Buffer.byteLength(json) }
  if (cached === undefined) serializedFrames.set(event, frame)
  return frame
}

/**
 * An event read back from the history, its payload still JSON text: `data` is parsed the
 * first time something asks for it (polling builds objects; sockets never need to).
 */
export function storedEventFromJson(id: EventId, type: string, topics: readonly string[], dataJson: string, ts: string): StoredEvent {
  let data: Readonly<Record<string, unknown>> | undefined
  return {
    id: formatEventId(id),
    lsn: id.lsn,
    seq: id.seq,
    topics,
    type,
    get data() {
      data ??= JSON.parse(dataJson) as Record<string, unknown>
      return data
    },
    ts,
    dataJson,
  }
}
