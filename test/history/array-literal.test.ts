import t from 'tap'
import pg from 'pg'
import { createTestDatabase } from '../helpers/db.ts'
import { arrayElement, nestedArrayElement, textArrayLiteral } from '../../src/history/array-literal.ts'

// The history append builds its column arrays as Postgres array literals itself: whatever
// a string holds, array_in must give back exactly that string.
const odd = [
  'escrow:12', 'book:BTC-USD', '2026-12-02T14:33:15.108Z', 'a+b/c_d.e',
  '', ' ', ' lead', 'trail ', 'NULL', 'null', 'NuLl', 'nullish', 'quote "', 'back\\slash', '\\', '"',
  'comma,', '{brace}', '}', 'new\nline', 'tab\t', 'é 😀 \u2028', '\\"{,}"\\', '{"a","b"}',
]

t.test('plain elements go as they are; the others are quoted', async (t) => {
  t.equal(arrayElement('escrow:12'), 'escrow:12')
  t.equal(arrayElement('2026-12-02T14:33:15.108Z'), '2026-12-02T14:33:15.108Z')
  t.equal(arrayElement('null'), '"null"', 'NULL spelled in any case would read back as a null')
  t.equal(arrayElement(''), '""', 'an empty element needs quotes')
  t.equal(arrayElement('a "b" \\c'), '"a \\"b\\" \\\\c"')
  t.equal(textArrayLiteral([]), '{}')
  t.equal(nestedArrayElement(['escrow:1', 'all']), '"{escrow:1,all}"')
})

t.test('array_in reads every literal back as the strings it was built from', async (t) => {
  const tdb = await createTestDatabase(t)
  const client = new pg.Client({ connectionString: tdb.url })
  await client.connect()
  t.teardown(() => client.end())
  const flat = await client.query<{ a: string[] }>('SELECT $1::text[] AS a', [textArrayLiteral(odd)])
  t.same(flat.rows[0]!.a, odd, 'a text[] of odd strings')
  // As the append sends topics: an array of text[] literals, each cast back per row.
  const lists = [odd, [], ['escrow:1'], ['', 'NULL'], odd.slice(10)]
  const nested = await client.query<{ a: string[] }>('SELECT x::text[] AS a FROM unnest($1::text[]) AS x', [`{${lists.map(nestedArrayElement).join(',')}}`])
  t.same(nested.rows.map((row) => row.a), lists, 'text[] literals inside a text[] literal')
})

t.test('remembered elements stay exact past the bound of what is remembered, and for arrays that change', async (t) => {
  // More distinct elements than are remembered (a commit time per transaction): each is
  // still its own literal after the memory was cleared, the odd ones quoted as before.
  const times = Array.from({ length: 5000 }, (_, i) => `2026-12-02T14:33:${String(Math.floor(i / 1000)).padStart(2, '0')}.${String(i % 1000).padStart(3, '0')}Z`)
  t.same(times.map(arrayElement), times, '5,000 commit times, each as it is')
  t.same(odd.map(arrayElement), odd.map(arrayElement), 'the odd strings, asked twice')
  t.equal(arrayElement('null'), '"null"', 'still quoted after the clear')
  // A frozen topics array (makeEvent shares one per topic) is remembered by identity; an
  // array that can change is built every time, so a change is never missed.
  const shared = Object.freeze(['escrow:7'])
  t.equal(nestedArrayElement(shared), '"{escrow:7}"')
  t.equal(nestedArrayElement(shared), '"{escrow:7}"', 'the same frozen array again')
  const mutable = ['escrow:8']
  t.equal(nestedArrayElement(mutable), '"{escrow:8}"')
  mutable.push('all')
  t.equal(nestedArrayElement(mutable), '"{escrow:8,all}"', 'a changed array gives its new literal')
  t.equal(nestedArrayElement(shared), '"{escrow:7}"', 'and the frozen one is still its own')
})
