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
  readonly seq: number
  readonly type: string
  /** JSON array text; null for an event of one topic (the page's: sql/007). */
  readonly topics: string | null
}

// The frame's fixed head: the id follows it, 25 characters (formatEventId).
const ID_AT = '{"op":"event","id":"'.length

/**
 * The StoredEvent of a page row, carrying its frame (a replay to a socket needs nothing
 * else). Id, commit time and payload text are slices of the frame: `"data":` first occurs
 * as the frame's own key (a JSON string holds no unescaped quote), `,"ts":"` last occurs
 * after the payload. The topics and the parsed payload are made when first asked for
 * (prototype getters: a copy made by spreading one would lack them; nothing copies them).
 */
class PageEvent implements StoredEvent {
  readonly id: string
  readonly lsn: bigint
  readonly seq: number
  readonly type: string
  readonly ts: string
  readonly dataJson: string
  readonly frame: PageFrame
  #topicsJson: string | null
  #topics: readonly string[] | undefined
  #data: Readonly<Record<string, unknown>> | undefined

  constructor(row: PageRow, topic: string) {
    const json = row.frame
    this.id = json.slice(ID_AT, ID_AT + 25)
    this.lsn = BigInt(`0x${json.slice(ID_AT, ID_AT + 16)}`)
    this.seq = row.seq
    this.type = row.type
    const tsAt = json.lastIndexOf(',"ts":"')
    this.ts = json.slice(tsAt + 7, json.lastIndexOf('","lsn":"'))
    this.dataJson = json.slice(json.indexOf('"data":') + 7, tsAt)
    this.frame = { topic, json, bytes: Buffer.byteLength(json) }
    this.#topicsJson = row.topics
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
