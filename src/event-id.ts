import { WalcastError } from './errors.ts'

/**
 * An event's position in the stream: the commit LSN of its transaction and its ordinal
 * within that transaction. Postgres sends transactions in commit order, so this pair
 * orders events exactly as they were committed. Change LSNs are never used: a later
 * commit can contain lower change LSNs than an earlier one.
 */
export interface EventId {
  readonly lsn: bigint
  readonly seq: number
}

// The sequence is an int4 in the history: at most 7fffffff, so its first digit is 0-7.
const ID_PATTERN = /^[0-9a-f]{16}-[0-7][0-9a-f]{7}$/
const LSN_TEXT = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/

/** Fixed width, lower-case hex: string order equals stream order. */
export function formatEventId(id: EventId): string {
  return `${lsnPart(id.lsn)}-${id.seq < SEQ_TEXTS ? seqText(id.seq) : id.seq.toString(16).padStart(8, '0')}`
}

// A transaction's ordinals start at 0 every time: the first few thousand are formatted once.
const SEQ_TEXTS = 4096
const seqTexts: string[] = []

function seqText(seq: number): string {
  let text = seqTexts[seq]
  if (text === undefined) {
    for (let i = seqTexts.length; i <= seq; i++) seqTexts.push(i.toString(16).padStart(8, '0'))
    text = seqTexts[seq]!
  }
  return text
}

// Ids are made a transaction at a time, all with its commit LSN: its part is formatted once.
let lastLsn = -1n
let lastLsnPart = ''

function lsnPart(lsn: bigint): string {
  if (lsn !== lastLsn) {
    lastLsnPart = lsn.toString(16).padStart(16, '0')
    lastLsn = lsn
  }
  return lastLsnPart
}

export function parseEventId(text: string): EventId {
  if (typeof text !== 'string' || !ID_PATTERN.test(text)) {
    throw new WalcastError('EVENT_ID_INVALID', `not a walcast event id: ${JSON.stringify(String(text).slice(0, 40))}`, {
      hint: 'event ids look like 0000000001a2b3c4-00000000; send back an id exactly as received',
    })
  }
  return { lsn: BigInt(`0x${text.slice(0, 16)}`), seq: Number.parseInt(text.slice(17), 16) }
}

export function isEventId(text: unknown): text is string {
  return typeof text === 'string' && ID_PATTERN.test(text)
}

export function compareEventIds(a: EventId, b: EventId): number {
  if (a.lsn !== b.lsn) return a.lsn < b.lsn ? -1 : 1
  return a.seq - b.seq
}

/** Accepts Postgres' `0/2A51B80` and pg-logical-replication's zero-padded `00000000/02A51B80`. */
export function parseLsn(text: string): bigint {
  const match = LSN_TEXT.exec(text)
  if (!match) throw new WalcastError('EVENT_ID_INVALID', `not an LSN: ${JSON.stringify(text)}`)
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`)
}

/** Postgres' own text form, as `pg_lsn` prints it. */
export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`
}

export const ZERO_ID: EventId = Object.freeze({ lsn: 0n, seq: 0 })

/** The largest sequence an id can carry (the history's int4). */
export const MAX_SEQ = 0x7fffffff

/**
 * The resume position that stands for "told about the gap ending at `untilLsn`": above
 * every event before the gap (their commits end at or before `untilLsn`, so their LSNs
 * are below `untilLsn - 1`: a WAL record is longer than a byte) and below every event
 * after it (commit LSN >= `untilLsn`). No event has this id, so a client that holds it
 * neither skips an event nor is told `reset` for the same gap twice.
 */
export function gapMark(untilLsn: bigint): string {
  return formatEventId({ lsn: untilLsn - 1n, seq: MAX_SEQ })
}
