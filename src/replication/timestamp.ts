import pg from 'pg'
import type { Pgoutput } from 'pg-logical-replication'

const TIMESTAMPTZ_OID = 1184
const parseTimestamptz = pg.types.getTypeParser(TIMESTAMPTZ_OID) as (text: string) => unknown

/**
 * A timestamptz column's value as the ISO-8601 text `jsonValue` would make of pg's Date
 * (`2026-12-02T11:27:32.123Z`), read straight from Postgres's text: the Date was only
 * ever turned back into that string, and the round trip (a regular expression, a Date,
 * `toISOString`) was a tenth of walcast's CPU per live event. The replication session
 * runs with TimeZone=UTC and DateStyle=ISO (stream.ts), so Postgres prints
 * `2026-12-02 11:27:32.123456+00`; anything else (BC, a year past 9999, infinity, another
 * offset) takes pg's own parser as before. Milliseconds are cut as pg's parser and Date
 * cut them, so a payload is the same whichever way its value went.
 */
export function timestamptzValue(text: string): unknown {
  const length = text.length
  if (length < 22 || length > 29 || text.charCodeAt(10) !== 32 /* space */ || !text.endsWith('+00') || !digits(text, 0, 4) || text.charCodeAt(4) !== 45 /* - */) {
    return parseTimestamptz(text)
  }
  // Rows written together share their date and time to the second: that part of the result
  // (`2026-12-02T11:27:32.`) is made once, and the milliseconds come from a table.
  if (!text.startsWith(lastSecond)) {
    lastSecond = text.slice(0, 20)
    lastPrefix = `${text.slice(0, 10)}T${text.slice(11, 19)}.`
  }
  if (length === 22) return `${lastPrefix}000Z`
  const end = length - 3
  if (length === 23 || text.charCodeAt(19) !== 46 /* . */ || !digits(text, 20, end)) return parseTimestamptz(text)
  // The first three digits of the fraction, as many as there are: what
  // `Math.trunc(1000 * parseFloat(fraction))` gives for every fraction of 1 to 6 digits
  // (test/replication/timestamp.text.test.ts compares them all), without a slice and a float.
  let ms = (text.charCodeAt(20) - 48) * 100
  if (end > 21) ms += (text.charCodeAt(21) - 48) * 10
  if (end > 22) ms += text.charCodeAt(22) - 48
  return `${lastPrefix}${millisecondTexts[ms]}Z`
}

// `YYYY-MM-DD HH:MM:SS.` of the last value read (the dot included, so a value without a
// fraction never matches it), and its result form.
let lastSecond = '\u0000'
let lastPrefix = ''
const millisecondTexts = Array.from({ length: 1000 }, (_, ms) => String(ms).padStart(3, '0'))

function digits(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i)
    if (c < 48 || c > 57) return false
  }
  return true
}

const INT8_OID = 20
// pg's int8 parser tests the text against a regular expression and returns it either way.
const asText = (text: string): string => text

/**
 * pg-logical-replication decodes each column with the parser its relation message was
 * given (pg's global ones, shared with every other pg client in the process, which must
 * keep their Dates). The relation it hands over is the one its decoder keeps, so setting
 * the parser there, before any row of that relation is decoded, changes this stream only.
 */
export function useTextParsers(relation: Pgoutput.MessageRelation): void {
  for (const column of relation.columns) {
    if (column.typeOid === TIMESTAMPTZ_OID) column.parser = timestamptzValue
    else if (column.typeOid === INT8_OID) column.parser = asText
  }
}
