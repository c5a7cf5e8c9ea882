import t from 'tap'
import { createTestDatabase } from '../helpers/db.ts'
import { capturingLogger } from '../helpers/log.ts'
import { startTestService } from '../helpers/service.ts'
import { authEnv, signToken, tamperSignature, unsignedToken, type TokenOptions } from '../helpers/tokens.ts'
import { waitFor } from '../helpers/wait.ts'
import { connectWs, refusedUpgrade } from '../helpers/ws-client.ts'

const ISSUER = 'https://idp.test'
const AUDIENCE = 'walcast-dashboards'
const token = (sub: string, options: TokenOptions = {}): Promise<string> => signToken(sub, { iss: ISSUER, aud: AUDIENCE, ...options })

t.test('the upgrade needs a valid token: every refusal is a 401 and no socket', async (t) => {
  const tdb = await createTestDatabase(t)
  const capture = capturingLogger('debug')
  const service = await startTestService(t, tdb, authEnv({ WALCAST_JWT_ISSUER: ISSUER, WALCAST_JWT_AUDIENCE: AUDIENCE, WALCAST_LOG_LEVEL: 'debug' }), capture.log)
  const port = service.http.port
  const used: string[] = []
  const refused = async (name: string, tok: string | undefined, path?: string): Promise<void> => {
    if (tok !== undefined) used.push(tok)
    const answer = await refusedUpgrade(port, tok, path)
    t.equal(answer.status, 401, `${name}: 401`)
    t.equal(JSON.parse(answer.body).error.code, 'unauthorized', `${name}: error body`)
    t.equal(answer.headers['www-authenticate'], 'Bearer', `${name}: WWW-Authenticate`)
  }
  await refused('missing', undefined)
  await refused('empty', '')
  await refused('malformed', 'not.a.jwt')
  await refused('garbage', 'hello')
  const good = await token('1')
  await refused('bad signature', await token('1', { secret: 'some-other-secret-some-other-secret' }))
  await refused('tampered', tamperSignature(good))
  await refused('expired', await token('1', { expiresIn: -120 }))
  await refused('no exp', await token('1', { noExp: true }))
  await refused('alg none', unsignedToken('1', { iss: ISSUER, aud: AUDIENCE }))
  await refused('wrong issuer', await token('1', { iss: 'https://evil.test' }))
  await refused('wrong audience', await token('1', { aud: 'someone-else' }))
  await refused('no issuer or audience', await signToken('1'))
  await refused('token in another parameter', undefined, `/v1/ws?access_token=${good}`)

  const client = await connectWs(t, port, good)
  used.push(good)
  client.send({ op: 'ping', ref: 'p1' })
  t.same(await client.next((f) => f.op === 'pong'), { op: 'pong', ref: 'p1' }, 'a good token opens a socket')
  t.ok(service.gateway.stats().authFailures >= 13, 'refusals are counted')
  t.ok(service.gateway.stats().upgradesRejected >= 13)

  const lines = capture.lines()
  t.ok(lines.some((l) => l.includes('websocket upgrade refused')), 'refusals are logged (at debug)')
  const secrets = used.flatMap((tok) => [tok, ...tok.split('.')]).filter((part) => part.length > 16)
  t.ok(secrets.length > 20)
  for (const secret of secrets) t.notOk(lines.some((l) => l.includes(secret)), 'no log line holds a token or a part of one')
  await client.close()
})

t.test('token lifetime: close 4001 at exp, refresh with auth, refresh rules', async (t) => {
  const tdb = await createTestDatabase(t)
  const service = await startTestService(t, tdb, authEnv({ WALCAST_JWT_ISSUER: ISSUER, WALCAST_JWT_AUDIENCE: AUDIENCE, WALCAST_JWT_CLOCK_TOLERANCE: '0' }))
  const port = service.http.port

  t.test('closed with 4001 when the token expires', async (t) => {
    const started = Date.now()
    const client = await connectWs(t, port, await token('5', { expiresIn: 2 }))
    const closed = await client.closed
    t.equal(closed.code, 4001)
    t.equal(closed.reason, 'token expired')
    t.ok(Date.now() - started >= 900, 'not before exp')
    t.ok(service.gateway.stats().tokenExpiryCloses >= 1)
  })

  t.test('a fresh token sent with auth keeps the socket open past the old exp', async (t) => {
    const client = await connectWs(t, port, await token('6', { expiresIn: 2 }))
    client.send({ op: 'auth', token: await token('6', { expiresIn: 3600 }), ref: 'a1' })
    const exp = Date.now() + 2000
    await waitFor(() => Date.now() > exp + 1500, 10_000, 'the first token to expire')
    t.equal(client.closeInfo(), undefined, 'still open')
    client.send({ op: 'ping', ref: 'after' })
    t.same(await client.next((f) => f.op === 'pong'), { op: 'pong', ref: 'after' })
    t.notOk(client.frames.some((f) => f.op === 'error'), 'auth succeeded silently')
    await client.close()
  })

  t.test('a refused refresh leaves the current token in force', async (t) => {
    const client = await connectWs(t, port, await token('7'))
    client.send({ op: 'auth', token: 'garbage', ref: 'bad' })
    const bad = await client.next((f) => f.op === 'error' && f.ref === 'bad')
    t.equal(bad.code, 'forbidden')
    t.match(bad.message, /malformed/)
    client.send({ op: 'auth', token: await token('7', { expiresIn: -60 }), ref: 'old' })
    t.match((await client.next((f) => f.ref === 'old')).message, /expired/)
    client.send({ op: 'auth', token: await token('8'), ref: 'other' })
    const other = await client.next((f) => f.ref === 'other')
    t.equal(other.code, 'forbidden')
    t.match(other.message, /different user/)
    client.send({ op: 'auth', ref: 'none' })
    t.equal((await client.next((f) => f.ref === 'none')).code, 'bad_request', 'auth without a token')
    client.send({ op: 'ping' })
    t.same(await client.next((f) => f.op === 'pong'), { op: 'pong' }, 'the connection keeps working')
    await client.close()
  })

  t.test('a refreshed token without the admin role ends admin subscriptions', async (t) => {
    const client = await connectWs(t, port, await token('9', { role: 'admin' }))
    t.equal((await client.subscribeAndWait('admin:disputes')).op, 'subscribed')
    t.equal((await client.subscribeAndWait('user:9')).op, 'subscribed')
    client.send({ op: 'auth', token: await token('9') })
    const revoked = await client.next((f) => f.op === 'unsubscribed')
    t.same(revoked, { op: 'unsubscribed', topic: 'admin:disputes', reason: 'revoked' })
    client.send({ op: 'ping', ref: 'x' })
    await client.next((f) => f.op === 'pong')
    t.equal(client.frames.filter((f) => f.op === 'unsubscribed').length, 1, 'user:9 stays')
    await client.close()
  })
})

t.test('at most N connections per user (429), counted again when one closes', async (t) => {
  const tdb = await createTestDatabase(t)
  const service = await startTestService(t, tdb, authEnv({ WALCAST_WS_MAX_CONNECTIONS_PER_USER: '2' }))
  const port = service.http.port
  const tok = await signToken('20')
  const a = await connectWs(t, port, tok)
  await connectWs(t, port, tok)
  const third = await refusedUpgrade(port, tok)
  t.equal(third.status, 429)
  t.equal(JSON.parse(third.body).error.code, 'too_many_connections')
  await connectWs(t, port, await signToken('21')).then((c) => t.ok(c, 'other users are not affected'))
  await a.close()
  const again = await waitFor(async () => connectWs(t, port, tok).catch(() => undefined), 10_000, 'a free connection slot')
  t.ok(again, 'a slot frees up when a socket closes')
  t.equal(service.gateway.stats().connections, 3)
})

t.test('without any key configured every upgrade is refused with 503', async (t) => {
  const tdb = await createTestDatabase(t)
  const service = await startTestService(t, tdb)
  const answer = await refusedUpgrade(service.http.port, await signToken('1'))
  t.equal(answer.status, 503)
  t.equal(JSON.parse(answer.body).error.code, 'auth_unavailable')
})
