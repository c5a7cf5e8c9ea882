import pg from 'pg'
import t from 'tap'
import { sessionOptions } from '../../src/replication/stream.ts'
import { timestamptzValue, useTextParsers } from '../../src/replication/timestamp.ts'
import { jsonValue } from '../../src/catalog/values.ts'

// What a payload held before timestamptz values were read as text: pg's Date, through jsonValue.
const viaDate = (text: string): unknown => jsonValue(pg.types.getTypeParser(1184)(text))

t.test('timestamptz text becomes the ISO-8601 string the Date round trip made', async (t) => {
  const samples = [
    '2026-12-02 11:27:32+00',
    '2026-12-02 11:27:32.1+00',
    '2026-12-02 11:27:32.12+00',
    '2026-12-02 11:27:32.123+00',
    '2026-12-02 11:27:32.1239+00',
    '2026-12-02 11:27:32.999999+00',
    '2026-12-02 11:27:32.000001+00',
    '2026-12-02 11:27:32.291+00',
    '0050-01-01 00:00:00.5+00',
    '1999-12-31 23:59:59.999999+00',
  ]
  // Every millisecond fraction spelled with 3 to 6 digits: float cuts must agree too.
  for (let ms = 0; ms < 1000; ms += 7) {
    const three = String(ms).padStart(3, '0')
    samples.push(`2024-02-29 00:00:00.${three}+00`, `2024-02-29 00:00:00.${three}${ms % 10}+00`, `2024-02-29 00:00:00.${three}${ms % 7}99+00`)
  }
  for (const text of samples) t.equal(timestamptzValue(text), viaDate(text), text)
})

t.test('milliseconds read from the digits agree with the float cut for every fraction Postgres prints', async (t) => {
  // 1 to 6 fraction digits: 1,111,110 spellings, each against pg's Date (which cuts as
  // Math.trunc(1000 * parseFloat(fraction)) did). One assertion: the first mismatch named.
  let mismatches = 0
  let first = ''
  for (let digits = 1; digits <= 6; digits++) {
    for (let v = 0; v < 10 ** digits; v++) {
      const text = `2026-12-02 11:27:32.${String(v).padStart(digits, '0')}+00`
      const expected = viaDate(text)
      if (timestamptzValue(text) !== expected) {
        mismatches++
        first ||= `${text} → ${String(timestamptzValue(text))}, pg ${String(expected)}`
      }
    }
  }
  t.equal(mismatches, 0, first || 'every fraction agrees')
})

t.test('other spellings take pg\'s parser, as before', async (t) => {
  for (const text of ['2026-12-02 11:27:32.5+01', '2026-12-02 11:27:32-05:30', '0044-03-15 12:00:00+00 BC', '12026-01-01 00:00:00+00', 'infinity', '-infinity', '2026-12-02 11:27:32.x+00']) {
    t.same(jsonValue(timestamptzValue(text)), viaDate(text), text)
  }
  t.type(timestamptzValue('infinity'), 'number', 'infinity stays a number (jsonValue makes it null in JSON)')
})

t.test('the replication session keeps the connection string\'s own options', async (t) => {
  t.equal(sessionOptions('postgres://u:p@127.0.0.1:5432/db'), '-c TimeZone=UTC -c DateStyle=ISO')
  t.equal(sessionOptions('postgres://u:p@127.0.0.1:5432/db?options=-c%20search_path%3Dapp'), '-c search_path=app -c TimeZone=UTC -c DateStyle=ISO')
  t.equal(sessionOptions('host=127.0.0.1 dbname=db'), '-c TimeZone=UTC -c DateStyle=ISO', 'not a URL: ours only')
})

t.test('int8 values stay the text pg\'s parser returned', async (t) => {
  const relation = { columns: [{ name: 'id', typeOid: 20, parser: pg.types.getTypeParser(20) }, { name: 'at', typeOid: 1184, parser: pg.types.getTypeParser(1184) }, { name: 'body', typeOid: 25, parser: pg.types.getTypeParser(25) }] }
  useTextParsers(relation as never)
  for (const text of ['0', '9223372036854775807', '-9223372036854775808', '42']) t.equal(relation.columns[0]!.parser(text), pg.types.getTypeParser(20)(text), text)
  t.equal(relation.columns[1]!.parser('2026-12-02 11:27:32.5+00'), '2026-12-02T11:27:32.500Z')
  t.equal(relation.columns[2]!.parser, pg.types.getTypeParser(25), 'other types keep pg\'s parser')
})
