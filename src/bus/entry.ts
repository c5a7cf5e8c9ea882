import { parseEventId } from '../event-id.ts'
import { storedEventFromJson, type StoredEvent } from '../history/event.ts'

/**
 * One entry of the bus stream. Every entry carries its place in the chain: the epoch of
 * the ingest run that wrote it and its number in that run (1 = the run's `live` entry),
 * the id of the newest event published before it (`prev`), and the end of the newest
 * gap the ingest knew of after it. A follower that cannot prove an entry follows the
 * last one it applied reads the difference from the history first (I12).
 */
export type BusEntry =
  | (EntryBase & { readonly kind: 'batch'; readonly events: readonly StoredEvent[] })
  /** An ingest went live at `head` (the history's head when it took the slot). */
  | (EntryBase & { readonly kind: 'live'; readonly head: string })
  /** A gap ending at `gapEnd` was recorded; events after it follow. */
  | (EntryBase & { readonly kind: 'gap'; readonly reason: string })
  /** Access may have changed with no event naming it (a TRUNCATE): re-check before what follows. */
  | (EntryBase & { readonly kind: 'fence' })

interface EntryBase {
  readonly epoch: string
  readonly n: number
  readonly prev: string
  readonly gapEnd: bigint | undefined
}

/** The stream entry's single field: JSON keeps one XADD per entry whatever it holds. */
export const ENTRY_FIELD = 'e'

type WireEvent = [id: string, type: string, topics: readonly string[], data: string, ts: string]

export function encodeEntry(entry: BusEntry): string {
  const base = { v: 1, ep: entry.epoch, n: entry.n, p: entry.prev, g: entry.gapEnd?.toString() ?? null }
  switch (entry.kind) {
    case 'batch':
      // Stored payload text travels as it is: nothing parsed or re-serialised on the way.
      return JSON.stringify({ ...base, k: 'batch', ev: entry.events.map((e): WireEvent => [e.id, e.type, e.topics, e.dataJson ?? JSON.stringify(e.data), e.ts]) })
    case 'live':
      return JSON.stringify({ ...base, k: 'live', h: entry.head })
    case 'gap':
      return JSON.stringify({ ...base, k: 'gap', r: entry.reason })
    case 'fence':
      return JSON.stringify({ ...base, k: 'fence' })
  }
}

/** Throws BusEntryError on anything that is not an entry this version wrote. */
export function decodeEntry(text: string): BusEntry {
  let raw: Record<string, unknown>
  try {
    raw = JSON.parse(text) as Record<string, unknown>
  } catch {
    throw new BusEntryError('not JSON')
  }
  if (raw === null || typeof raw !== 'object' || raw.v !== 1) throw new BusEntryError('unknown version')
  const epoch = raw.ep
  const n = raw.n
  if (typeof epoch !== 'string' || !Number.isSafeInteger(n) || (n as number) < 1) throw new BusEntryError('bad epoch or number')
  const base: EntryBase = { epoch, n: n as number, prev: eventId(raw.p), gapEnd: gapEnd(raw.g) }
  switch (raw.k) {
    case 'batch': {
      if (!Array.isArray(raw.ev) || raw.ev.length === 0) throw new BusEntryError('batch without events')
      return { ...base, kind: 'batch', events: raw.ev.map(wireEvent) }
    }
    case 'live':
      return { ...base, kind: 'live', head: eventId(raw.h) }
    case 'gap':
      if (typeof raw.r !== 'string' || base.gapEnd === undefined) throw new BusEntryError('gap without reason or end')
      return { ...base, kind: 'gap', reason: raw.r }
    case 'fence':
      return { ...base, kind: 'fence' }
    default:
      throw new BusEntryError('unknown kind')
  }
}

export class BusEntryError extends Error {
  constructor(what: string) {
    super(`malformed bus entry: ${what}`)
    this.name = 'BusEntryError'
  }
}

function eventId(value: unknown): string {
  if (typeof value !== 'string') throw new BusEntryError('bad event id')
  try {
    parseEventId(value)
  } catch {
    throw new BusEntryError('bad event id')
  }
  return value
}

function gapEnd(value: unknown): bigint | undefined {
  if (value === null || value === undefined) return undefined
  if (typeof value !== 'string' || !/^\d{1,20}$/.test(value)) throw new BusEntryError('bad gap end')
  return BigInt(value)
}

function wireEvent(value: unknown): StoredEvent {
  if (!Array.isArray(value) || value.length !== 5) throw new BusEntryError('bad event')
  const [id, type, topics, data, ts] = value as unknown[]
  if (typeof type !== 'string' || typeof data !== 'string' || typeof ts !== 'string' || !Array.isArray(topics) || !topics.every((t) => typeof t === 'string')) {
    throw new BusEntryError('bad event')
  }
  return storedEventFromJson(parseEventId(eventId(id)), type, topics as string[], data, ts)
}
