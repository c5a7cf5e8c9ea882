import net from 'node:net'
import t from 'tap'
import WebSocket from 'ws'
import { ADMISSION_LIMITS } from '../../src/gateway/upgrade.ts'
import { createTestDatabase } from '../helpers/db.ts'
import { capturingLogger } from '../helpers/log.ts'
import { freePort } from '../helpers/own-server.ts'
import { startTestService } from '../helpers/service.ts'
import { authEnv, signToken, tamperSignature, unsignedToken, type TokenOptions } from '../helpers/tokens.ts'
import { waitFor } from '../helpers/wait.ts'
import { connectWs, refusedUpgrade, wsUrl } from '../helpers/ws-client.ts'

const ISSUER = 'https://idp.test'
const AUDIENCE = 'walcast-dashboards'
const token = (sub: string, options: TokenOptions = {}): Promise<string> => signToken(sub, { iss: ISSUER, aud: AUDIENCE, ...options })

/** Opens a socket that the server accepts and then closes; resolves to the close. */
async function closedAfterOpen(port: number, tok: string, before?: (ws: WebSocket) => void): Promise<{ code: number; reason: string; frames: string[] }> {
  const ws = new WebSocket(wsUrl(port, tok))
  const frames: string[] = []
  ws.on('error', () => {})
  ws.on('message', (data) => frames.push(data.toString()))
  ws.on('open', () => before?.(ws))
  return new Promise((resolve, reject) => {
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused with HTTP ${res.statusCode}`)))
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString(), frames }))
  })
}

t.test('a new socket needs a valid token: no token is a 401, any other refusal a close 4401 before any frame', async (t) => {
  const tdb = await createTestDatabase(t)
  const capture = capturingLogger('debug')
  const service = await startTestService(t, tdb, authEnv({ WALCAST_JWT_ISSUER: ISSUER, WALCAST_JWT_AUDIENCE: AUDIENCE, WALCAST_LOG_LEVEL: 'debug' }), capture.log)
  const port = service.http.port
  const used: string[] = []
  const unauthenticated = async (name: string, path?: string): Promise<void> => {
    const answer = await refusedUpgrade(port, undefined, path)
    t.equal(answer.status, 401, `${name}: 401`)
    t.equal(JSON.parse(answer.body).error.code, 'unauthorized', `${name}: error body`)
    t.equal(answer.headers['www-authenticate'], 'Bearer', `${name}: WWW-Authenticate`)
  }
  await unauthenticated('missing')
  await unauthenticated('empty', '/v1/ws?token=')
  const good = await token('1')
  await unauthenticated('token in another parameter', `/v1/ws?access_token=${good}`)

  const refused = async (name: string, tok: string, why: string): Promise<void> => {
    used.push(tok)
    // It asks for a topic at once: the frame waits for the token and is never answered.
    const closed = await closedAfterOpen(port, tok, (ws) => ws.send(JSON.stringify({ op: 'subscribe', topic: 'user:1' })))
    t.same([closed.code, closed.reason], [4401, `token rejected (${why})`], `${name}: 4401`)
    t.same(closed.frames, [], `${name}: not a frame before the close`)
  }
  await refused('malformed', 'not.a.jwt', 'malformed')
  await refused('garbage', 'hello', 'malformed')
  await refused('bad signature', await token('1', { secret: 'some-other-secret-some-other-secret' }), 'bad_signature')
  await refused('tampered', tamperSignature(good), 'bad_signature')
  await refused('expired', await token('1', { expiresIn: -120 }), 'expired')
  await refused('no exp', await token('1', { noExp: true }), 'claim_invalid')
  await refused('alg none', unsignedToken('1', { iss: ISSUER, aud: AUDIENCE }), 'alg_not_allowed')
  await refused('wrong issuer', await token('1', { iss: 'https://evil.test' }), 'claim_invalid')
  await refused('wrong audience', await token('1', { aud: 'someone-else' }), 'claim_invalid')
  await refused('no issuer or audience', await signToken('1'), 'claim_invalid')
  t.equal(service.gateway.stats().connections, 0, 'none of them was ever counted as a connection')

  const client = await connectWs(t, port, good)
  used.push(good)
  client.send({ op: 'ping', ref: 'p1' })
  t.same(await client.next((f) => f.op === 'pong'), { op: 'pong', ref: 'p1' }, 'a good token opens a socket')
  t.ok(service.gateway.stats().authFailures >= 13, 'refusals are counted')
  t.ok(service.gateway.stats().upgradesRejected >= 13)

  const lines = capture.lines()
  t.ok(lines.some((l) => l.includes('websocket token refused')), 'refusals are logged (at debug)')
  const secrets = used.flatMap((tok) => [tok, ...tok.split('.')]).filter((part) => part.length > 16)
  t.ok(secrets.length > 20)
  for (const secret of secrets) t.notOk(lines.some((l) => l.includes(secret)), 'no log line holds a token or a part of one')
  await client.close()
})

t.test('frames sent before the token verified are handled in order once it has', async (t) => {
  const tdb = await createTestDatabase(t)
  const service = await startTestService(t, tdb, authEnv())
  const ws = new WebSocket(wsUrl(service.http.port, await signToken('3')))
  const frames: { op: string; ref?: unknown; topic?: string }[] = []
  ws.on('message', (data) => frames.push(JSON.parse(data.toString())))
  ws.on('open', () => {
    ws.send(JSON.stringify({ op: 'ping', ref: 1 }))
    ws.send(JSON.stringify({ op: 'subscribe', topic: 'user:3', ref: 2 }))
    ws.send(JSON.stringify({ op: 'ping', ref: 3 }))
  })
  t.teardown(() => ws.terminate())
  await waitFor(() => frames.length >= 3, 10_000, 'three answers')
  t.same(frames[0], { op: 'pong', ref: 1 }, 'the first frame sent is answered first')
  t.same(frames.filter((f) => f.op === 'pong').map((f) => f.ref), [1, 3], 'the pings in the order sent')
  t.match(frames.find((f) => f.op === 'subscribed'), { topic: 'user:3', ref: 2 }, 'the subscribe held meanwhile is served')
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

/** Opens a socket and pings: resolves once answered (admitted) or closed. */
function admittedOrClosed(port: number, tok: string): Promise<{ ws: WebSocket; admitted: boolean; code?: number }> {
  const ws = new WebSocket(wsUrl(port, tok))
  ws.on('error', () => {})
  ws.on('open', () => ws.send(JSON.stringify({ op: 'ping' })))
  return new Promise((resolve) => {
    ws.on('message', () => resolve({ ws, admitted: true }))
    ws.on('close', (code) => resolve({ ws, admitted: false, code }))
  })
}

t.test('at most N connections per user (close 4030), counted again when one closes', async (t) => {
  const tdb = await createTestDatabase(t)
  const service = await startTestService(t, tdb, authEnv({ WALCAST_WS_MAX_CONNECTIONS_PER_USER: '2' }))
  const port = service.http.port
  const tok = await signToken('20')
  // Opened at once: the limit is checked and the socket admitted in one step, so two of
  // the three get in whatever order their verifications finish in.
  const three = await Promise.all([1, 2, 3].map(() => admittedOrClosed(port, tok)))
  t.teardown(() => { for (const { ws } of three) ws.terminate() })
  t.equal(three.filter((o) => o.admitted).length, 2, 'two admitted')
  t.same(three.filter((o) => !o.admitted).map((o) => o.code), [4030], 'the third closed with 4030')
  const other = await admittedOrClosed(port, await signToken('21'))
  t.teardown(() => other.ws.terminate())
  t.ok(other.admitted, 'other users are not affected')
  three.find((o) => o.admitted)!.ws.close()
  const again = await waitFor(async () => {
    const attempt = await admittedOrClosed(port, tok)
    return attempt.admitted ? attempt : undefined
  }, 10_000, 'a free connection slot')
  t.teardown(() => again.ws.terminate())
  t.ok(again.admitted, 'a slot frees up when a socket closes')
  t.equal(service.gateway.stats().connections, 3)
})

t.test('a token the server cannot verify closes with 1013, and so does a verification that takes too long', async (t) => {
  const tdb = await createTestDatabase(t)
  t.test('no key configured', async (t) => {
    const service = await startTestService(t, tdb)
    const closed = await closedAfterOpen(service.http.port, await signToken('1'))
    t.same([closed.code, closed.reason], [1013, 'the server cannot verify tokens right now'])
  })

  // An RS256 token's key comes from the JWKS: what it does decides how long verifying takes.
  const rs256 = (sub: string): string => [{ alg: 'RS256', kid: 'k1' }, { sub, exp: Math.floor(Date.now() / 1000) + 600 }]
    .map((part) => Buffer.from(JSON.stringify(part)).toString('base64url')).join('.') + '.c2lnbmF0dXJl'

  t.test('a JWKS that refuses connections', async (t) => {
    const closedPort = await freePort()
    const service = await startTestService(t, tdb, { WALCAST_JWKS_URL: `http://127.0.0.1:${closedPort}/jwks.json` })
    const closed = await closedAfterOpen(service.http.port, rs256('1'))
    t.same([closed.code, closed.reason], [1013, 'the server cannot verify tokens right now'])
  })

  t.test('a JWKS that never answers: closed at the deadline; held frames stay bounded', async (t) => {
    const sockets = new Set<net.Socket>()
    const silent = net.createServer((s) => { sockets.add(s) })
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    t.teardown(() => { for (const s of sockets) s.destroy(); silent.close() })
    const jwksPort = (silent.address() as net.AddressInfo).port
    const service = await startTestService(t, tdb, { WALCAST_JWKS_URL: `http://127.0.0.1:${jwksPort}/jwks.json`, WALCAST_WS_BURST: '3', WALCAST_WS_MAX_PAYLOAD: '1024', WALCAST_WS_RATE_TOLERANCE: '2' })
    const port = service.http.port

    const started = Date.now()
    const waiting = await closedAfterOpen(port, rs256('1'), () => {
      t.equal(service.gateway.stats().connections, 0, 'a socket waiting for its token is no connection yet')
    })
    t.same([waiting.code, waiting.reason], [1013, 'token verification timed out'])
    t.ok(Date.now() - started >= ADMISSION_LIMITS.deadlineMs - 100, 'at the deadline')

    const flood = await closedAfterOpen(port, rs256('2'), (ws) => { for (let i = 0; i < 6; i++) ws.send(JSON.stringify({ op: 'ping' })) })
    t.same([flood.code, flood.reason], [4029, 'rate limited'], 'a burst held, then more refusals than the tolerance: 4029')
    t.same(flood.frames.map((f) => (JSON.parse(f) as { code: string }).code), ['rate_limited', 'rate_limited'], 'each refused frame was answered with rate_limited first')
    const heavy = await closedAfterOpen(port, rs256('2'), (ws) => { for (let i = 0; i < 4; i++) ws.send(JSON.stringify({ op: 'ping', ref: 'x'.repeat(600) })) })
    t.same([heavy.code, heavy.reason], [4029, 'rate limited'], 'more than a frame\'s worth of held bytes, past the tolerance: 4029')
    t.equal(heavy.frames.length, 2, 'warned twice first')
    const big = await closedAfterOpen(port, rs256('3'), (ws) => ws.send('x'.repeat(2000)))
    t.same([big.code, big.reason], [1009, 'frame too large'], 'a held frame over the payload limit: 1009')
    t.ok(Date.now() - started < 2 * ADMISSION_LIMITS.deadlineMs, 'neither waited for the deadline')
    const polite = await closedAfterOpen(port, rs256('4'), (ws) => { for (let i = 0; i < 5; i++) ws.send(JSON.stringify({ op: 'ping' })) })
    t.same([polite.code, polite.frames.length], [1013, 2], 'within the tolerance: refused frames answered, the socket kept until the deadline')
  })
})

t.test('a shutdown closes sockets still waiting for their token with 1001', async (t) => {
  const tdb = await createTestDatabase(t)
  const silent = net.createServer(() => {})
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  t.teardown(() => silent.close())
  const service = await startTestService(t, tdb, { WALCAST_JWKS_URL: `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}/jwks.json` })
  const pending = [{ alg: 'RS256' }, { sub: '1', exp: Math.floor(Date.now() / 1000) + 600 }].map((p) => Buffer.from(JSON.stringify(p)).toString('base64url')).join('.') + '.c2ln'
  const closed = closedAfterOpen(service.http.port, pending, () => service.gateway.close())
  t.same(await closed.then((c) => [c.code, c.reason]), [1001, 'server shutting down'])
})
