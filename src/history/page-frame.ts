import type { FrameText } from '../protocol/event-batch.ts'
import type { StoredEvent } from './event.ts'

/** An event frame Postgres assembled for one topic while reading a replay page. */
export interface PageFrame extends FrameText {
  readonly topic: string
}

/**
 * A history page's row as Postgres returns it for a replay of `topic`: the event's `event`
 * frame for that topic assembled in SQL, byte for byte what eventFrameJson makes of the
 * read-back event (its payload spliced in as stored). A replay writes these frames as
 * they are: no id, LSN or frame is formatted per event in JavaScript.
 */
export interface PageRow {
  readonly frame: string
  /** JSON array text; null for an event of one topic (the page's: sql/007). */
  readonly topics: string | null
}

// The frame's fixed head: the id follows it, 25 characters (formatEventId): 16 hex digits
// of the LSN, a dash, 8 of the sequence.
const ID_AT = '{"op":"event","id":"'.length
// After the id: `","topic":`, the topic's JSON string, then `,"type":`.
const TOPIC_AT = ID_AT + 25 + '","topic":'.length

/**
 * The StoredEvent of a page row, carrying its frame (a replay to a socket needs nothing
 * else). Everything else is read from the frame, only when first asked for: the row has
 * nothing but the frame (and the topics of an event of several), which spares Postgres
 * and pg a column each per row. The keys are found by their first occurrence after the
 * id: a JSON string holds no unescaped quote, so `,"type":` and `"data":` occur first as
 * the frame's own keys, and `,"ts":"` last occurs after the payload. (Prototype getters:
 * a copy made by spreading one would lack them; nothing copies them.)
 */
class PageEvent implements StoredEvent {
  readonly id: string
  readonly seq: number
  readonly frame: PageFrame
  #topicsJson: string | null
  #lsn: bigint | undefined
  #type: string | undefined
  #ts: string | undefined
  #dataJson: string | undefined
  #topics: readonly string[] | undefined
  #data: Readonly<Record<string, unknown>> | undefined

  constructor(row: PageRow, topic: string) {
    const json = row.frame
    this.id = json.slice(ID_AT, ID_AT + 25)
    this.seq = parseInt(json.slice(ID_AT + 17, ID_AT + 25), 16)
    this.frame = { topic, json, bytes: Buffer.byteLength(json) }
    this.#topicsJson = row.topics
  }

  get lsn(): bigint {
    this.#lsn ??= BigInt(`0x${this.frame.json.slice(ID_AT, ID_AT + 16)}`)
    return this.#lsn
  }

  get type(): string {
    if (this.#type === undefined) {
      const json = this.frame.json
      const typeAt = json.indexOf(',"type":', TOPIC_AT) + 8
      this.#type = JSON.parse(json.slice(typeAt, json.indexOf(',"data":', typeAt))) as string
    }
    return this.#type
  }

  get ts(): string {
    if (this.#ts === undefined) {
      const json = this.frame.json
      const tsAt = json.lastIndexOf(',"ts":"')
      this.#ts = json.slice(tsAt + 7, json.lastIndexOf('","lsn":"'))
    }
    return this.#ts
  }

  get dataJson(): string {
    if (this.#dataJson === undefined) {
      const json = this.frame.json
      this.#dataJson = json.slice(json.indexOf('"data":', TOPIC_AT) + 7, json.lastIndexOf(',"ts":"'))
    }
    return this.#dataJson
  }

  get topics(): readonly string[] {
    this.#topics ??= this.#topicsJson === null ? [this.frame.topic] : JSON.parse(this.#topicsJson) as string[]
    return this.#topics
  }

  get data(): Readonly<Record<string, unknown>> {
    this.#data ??= JSON.parse(this.dataJson) as Record<string, unknown>
    return this.#data
  }
}

export function pageEvent(row: PageRow, topic: string): StoredEvent {
  return new PageEvent(row, topic)
}

/** The frame Postgres assembled for `event` and `topic`, if it was read so. */
export function pageFrame(event: StoredEvent, topic: string): PageFrame | undefined {
  return event instanceof PageEvent && event.frame.topic === topic ? event.frame : undefined
}
