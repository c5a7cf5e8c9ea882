import t from 'tap'
import { createTestDatabase } from '../helpers/db.ts'
import { childEnv, spawnWalcast } from '../helpers/spawn.ts'
import { waitFor } from '../helpers/wait.ts'

t.test('`walcast demo` seeds the demo users on an empty database, writes until SIGTERM, exits 0', async (t) => {
  const tdb = await createTestDatabase(t)
  const demo = spawnWalcast(['demo'], childEnv(tdb))
  t.teardown(() => demo.kill('SIGKILL'))
  await waitFor(() => demo.stdout().includes('walcast demo writer'), 30_000, 'the banner')
  t.match(demo.stdout(), /sign in as Ada Buyer/)
  await waitFor(async () => (await tdb.query<{ n: number }>('SELECT count(*)::int AS n FROM escrows')).rows[0]!.n > 2, 20_000, 'a demo escrow')
  const users = await tdb.query<{ display_name: string }>('SELECT display_name FROM users ORDER BY id')
  t.same(users.rows.map((r) => r.display_name), ['Ada Buyer', 'Sam Seller', 'Ari Arbiter'])
  demo.kill('SIGTERM')
  t.equal(await demo.exited, 0, 'a clean stop')
})
