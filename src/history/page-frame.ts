import type { FrameText } from '../protocol/event-batch.ts'
import type { StoredEvent } from './event.ts'

/** An event frame Postgres assembled for one topic while reading a replay page. */
export interface PageFrame extends FrameText {
  readonly topic: string
}

const PAGE_FRAME = Symbol('walcast.pageFrame')

/**
 * A history page's rows as Postgres returns them for a replay of `topic`: the event's
 * `event` frame for that topic assembled in SQL (its payload spliced in as stored, so it
 * is byte for byte what eventFrameJson makes of the read-back event) with its UTF-8
 * length. A replay writes these frames as they are: no id, LSN or frame is formatted, and
 * no length counted, per event in JavaScript.
 */
export interface PageRow {
  readonly id: string
  readonly lsn: string
  readonly seq: number
  /** JSON array text */
  readonly topics: string
  readonly type: string
  readonly ts: string
  readonly frame: string
  readonly bytes: number
}

/**
 * The StoredEvent of a page row, carrying its frame. Everything else is derived when first
 * asked for (a replay to a socket asks for none of it): the LSN from the id, the topics
 * from their JSON, the payload text from its place in the frame (`"data":` first occurs
 * as the frame's own key, since a JSON string holds no unescaped quote, and `,"ts":"`
 * last occurs after the payload).
 */
export function pageEvent(row: PageRow, topic: string): StoredEvent {
  const frame: PageFrame = { topic, json: row.frame, bytes: row.bytes }
  let lsn: bigint | undefined
  let topics: readonly string[] | undefined
  let dataJson: string | undefined
  let data: Readonly<Record<string, unknown>> | undefined
  return {
    id: row.id,
    get lsn() {
      lsn ??= BigInt(`0x${row.id.slice(0, 16)}`)
      return lsn
    },
    seq: row.seq,
    get topics() {
      topics ??= JSON.parse(row.topics) as string[]
      return topics
    },
    type: row.type,
    get data() {
      data ??= JSON.parse(this.dataJson!) as Record<string, unknown>
      return data
    },
    ts: row.ts,
    get dataJson() {
      dataJson ??= row.frame.slice(row.frame.indexOf('"data":') + 7, row.frame.lastIndexOf(',"ts":"'))
      return dataJson
    },
    [PAGE_FRAME]: frame,
  } as StoredEvent
}

/** The frame Postgres assembled for `event` and `topic`, if it was read so. */
export function pageFrame(event: StoredEvent, topic: string): PageFrame | undefined {
  const frame = (event as { [PAGE_FRAME]?: PageFrame })[PAGE_FRAME]
  return frame !== undefined && frame.topic === topic ? frame : undefined
}
