import t from 'tap'
import { startEmbeddedServe } from '../helpers/embedded-serve.ts'
import { waitFor } from '../helpers/wait.ts'

t.test('`WALCAST_CATALOG=marketplace npm start`: embedded Postgres, the marketplace demo seeded, its writer making events flow to Ada\'s topics, a clean stop', async (t) => {
  const { walcast, url } = await startEmbeddedServe(t, { WALCAST_CATALOG: 'marketplace' })
  t.match(walcast.stdout(), /sign in as Ada Buyer, user 1, or Sam Seller, user 2/, 'whom to sign in as')
  const users = (await (await fetch(`${url}/v1/dev/users`)).json()) as { users: { id: string; name: string }[] }
  t.same(users.users.map((u) => u.name), ['Ada Buyer', 'Sam Seller', 'Sol Seller', 'Ari Admin'], 'the demo users')
  const { token } = (await (await fetch(`${url}/v1/dev/token?user=1`)).json()) as { token: string }
  const overview = (await (await fetch(`${url}/v1/dev/overview`, { headers: { authorization: `Bearer ${token}` } })).json()) as { catalog: string; topics: { topic: string }[] }
  t.equal(overview.catalog, 'marketplace')
  t.same(overview.topics.slice(0, 3).map((x) => x.topic), ['user:1', 'buyers', 'buyer:1'], 'the page subscribes to Ada\'s own topic, her role\'s broadcast and her buyer profile first')
  const events = await waitFor(async () => {
    const response = await fetch(`${url}/v1/events?topic=buyer:1`, { headers: { authorization: `Bearer ${token}` } })
    const page = (await response.json()) as { events: { type: string }[] }
    return page.events.some((e) => e.type === 'request:offer-received') ? page.events : undefined
  }, 30_000, 'the demo writer\'s request and its first offer on Ada\'s buyer topic')
  t.same(events.slice(0, 2).map((e) => e.type), ['request:created', 'request:offer-received'])
  walcast.kill('SIGTERM')
  t.equal(await walcast.exited, 0, 'stops cleanly with the writer running')
})
