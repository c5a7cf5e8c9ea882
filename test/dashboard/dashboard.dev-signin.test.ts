import t from 'tap'
import { seedDemoData } from '../../src/catalogs/escrow/demo-seed.ts'
import { createTestDatabase } from '../helpers/db.ts'
import { startFeedService } from '../helpers/feed.ts'
import { silentLogger } from '../helpers/log.ts'
import { startTestService } from '../helpers/service.ts'
import { signToken } from '../helpers/tokens.ts'

t.test('without WALCAST_DEV (and not the embedded default) the dev sign-in does not exist', async (t) => {
  const tdb = await createTestDatabase(t)
  const { url } = await startFeedService(t, tdb)
  for (const path of ['/v1/dev/users', '/v1/dev/token?user=1', '/v1/dev/overview']) {
    const response = await fetch(`${url}${path}`)
    t.equal(response.status, 404, path)
    t.same(await response.json(), { error: { code: 'not_found', message: 'no such endpoint' } })
  }
  const page = await fetch(`${url}/`)
  t.equal(page.status, 200, 'the dashboard page itself is served')
  t.match(page.headers.get('content-type'), /text\/html/)
  t.match(await page.text(), /data-testid="connection"/)
  const app = await fetch(`${url}/dashboard/app.js`)
  t.match(app.headers.get('content-type'), /javascript/)
  t.match(await app.text(), /from '\/dashboard\/walcast-client\.js'/, 'the page loads the SDK as an ES module')
  t.match(await (await fetch(`${url}/dashboard/style.css`)).text(), /\.connection/)
  const icon = await fetch(`${url}/favicon.ico`)
  t.equal(icon.status, 200, 'a favicon where browsers look for one (no 404 in the console)')
  t.equal(icon.headers.get('content-type'), 'image/svg+xml')
  t.match(await icon.text(), /^<svg /)
  t.match(await (await fetch(`${url}/`)).text(), /<link rel="icon" href="\/favicon\.ico" type="image\/svg\+xml">/, 'the page names it')
  const sdk = await fetch(`${url}/dashboard/walcast-client.js`)
  t.equal(sdk.status, 200)
  const source = await sdk.text()
  t.match(source, /export\s*\{[^}]*createClient/, 'the SDK bundled for the browser')
  t.notMatch(source, /from\s*["']node:/, 'no Node-only import in the browser bundle')
  for (const path of ['/dashboard/../package.json', '/dashboard/index.ts', '/dashboard/%2e%2e%2fpackage.json']) {
    t.equal((await fetch(`${url}${path}`)).status, 404, `${path} is not served`)
  }
})

t.test('with WALCAST_DEV=1: demo users, a token that every transport accepts, the user’s escrows and topics', async (t) => {
  const tdb = await createTestDatabase(t)
  const { service, url } = await startFeedService(t, tdb, { WALCAST_DEV: '1' })
  await seedDemoData(service.database.db, silentLogger())
  const users = (await (await fetch(`${url}/v1/dev/users`)).json()) as { users: { id: string; name: string }[] }
  t.same(users.users.map((u) => u.name), ['Ada Buyer', 'Sam Seller', 'Ari Arbiter'])
  const issued = await fetch(`${url}/v1/dev/token?user=2`)
  t.equal(issued.headers.get('cache-control'), 'no-store')
  const { token, user } = (await issued.json()) as { token: string; user: { id: string; name: string } }
  t.same(user, { id: '2', name: 'Sam Seller', roles: [] }, 'the escrow catalog names no roles')
  const poll = await fetch(`${url}/v1/events?topic=user:2&limit=0`, { headers: { authorization: `Bearer ${token}` } })
  t.equal(poll.status, 200, 'the gateway’s verifier accepts the dev token')
  const overview = await fetch(`${url}/v1/dev/overview`, { headers: { authorization: `Bearer ${token}` } })
  t.equal(overview.headers.get('cache-control'), 'no-store')
  const body = (await overview.json()) as { catalog: string; title: string; columns: { key: string }[]; rows: { id: string; topic: string; cells: Record<string, string> }[]; topics: { topic: string }[]; notifications: string[] }
  t.equal(body.catalog, 'escrow')
  t.same(body.columns.map((c) => c.key), ['id', 'title', 'amount', 'role', 'status'])
  t.same(body.rows.map((r) => [r.id, r.topic, r.cells.role, r.cells.status]), [['2', 'escrow:2', 'seller', 'draft'], ['1', 'escrow:1', 'seller', 'funded']], 'latest first')
  t.same(body.topics.map((x) => x.topic), ['user:2', 'user:2:escrows'], 'the user’s own topic and the follow set of all their escrows')
  t.same(body.notifications, ['notification:new'])
  const odd = await fetch(`${url}/v1/dev/overview`, { headers: { authorization: `Bearer ${await signToken('not-a-number')}` } })
  t.match(await odd.json(), { catalog: 'escrow', rows: [], topics: [] }, 'a subject that is not a user id has no rows and no topics')

  for (const [path, status, code] of [
    ['/v1/dev/token', 400, 'bad_request'], ['/v1/dev/token?user=abc', 400, 'bad_request'],
    ['/v1/dev/token?user=99', 404, 'not_found'], ['/v1/dev/overview', 401, 'unauthorized'],
  ] as const) {
    const response = await fetch(`${url}${path}`)
    t.equal(response.status, status, path)
    t.match(await response.json(), { error: { code } })
  }
})

t.test('WALCAST_DEV=1 without a JWT secret: tokens cannot be issued (503), nothing crashes', async (t) => {
  const tdb = await createTestDatabase(t)
  const service = await startTestService(t, tdb, { WALCAST_DEV: '1' })
  await seedDemoData(service.database.db, silentLogger())
  const response = await fetch(`http://127.0.0.1:${service.http.port}/v1/dev/token?user=1`)
  t.equal(response.status, 503)
  t.match(await response.json(), { error: { code: 'auth_unavailable' } })
  const sse = await fetch(`http://127.0.0.1:${service.http.port}/v1/sse?topic=user:1&token=x.y.z`)
  t.equal(sse.status, 503, 'a server that cannot verify says so rather than 401')
  t.match(await sse.json(), { error: { code: 'auth_unavailable' } })
})
