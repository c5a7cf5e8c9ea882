import t from 'tap'
import { createTestDatabase } from '../helpers/db.ts'
import { startTestService } from '../helpers/service.ts'
import { adminToken, authEnv, signToken } from '../helpers/tokens.ts'
import { sleep, waitFor } from '../helpers/wait.ts'
import { connectWs, type ServerFrame, type TestWsClient } from '../helpers/ws-client.ts'

t.test('I11: bad input gets an error frame or a close, never a crash, never hurts others', async (t) => {
  const tdb = await createTestDatabase(t)
  const service = await startTestService(t, tdb, authEnv({ WALCAST_WS_IDLE_TIMEOUT: '8' }))
  const port = service.http.port
  await tdb.query(`INSERT INTO users (id, display_name) VALUES (1, 'U')`)
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency) VALUES (1, 'E', 1, 'EUR')`)
  await tdb.query(`INSERT INTO escrow_parties (escrow_id, user_id, role, accepted_at) VALUES (1, 1, 'buyer', now())`)

  // A bystander that must keep receiving through everything below.
  const bystander = await connectWs(t, port, await signToken('1'))
  t.equal((await bystander.subscribeAndWait('escrow:1')).op, 'subscribed')
  let flips = 0
  const flip = async (): Promise<void> => {
    flips++
    await tdb.query(`UPDATE escrows SET status = $1 WHERE id = 1`, [flips % 2 === 0 ? 'funded' : 'in_progress'])
  }
  const bystanderStillServed = async (what: string): Promise<void> => {
    const seen = bystander.events().length
    await flip()
    await waitFor(() => bystander.events().length > seen, 15_000, 'the bystander event')
    t.equal(bystander.closeInfo(), undefined, `the bystander is unaffected by ${what}`)
  }
  const lastError = async (client: TestWsClient, from: number): Promise<ServerFrame> => client.next((f) => f.op === 'error', 10_000, from)

  t.test('malformed frames: error frames, the connection stays usable', async (t) => {
    const client = await connectWs(t, port, await signToken('1'))
    const cases: [string, string | Buffer, boolean, string, (string | number)?][] = [
      ['not JSON', 'hello', false, 'bad_request'],
      ['truncated JSON', '{"op":"subscribe"', false, 'bad_request'],
      ['a JSON array', '[1,2]', false, 'bad_request'],
      ['JSON null', 'null', false, 'bad_request'],
      ['a JSON string', '"subscribe"', false, 'bad_request'],
      ['no op', '{"topic":"user:1"}', false, 'bad_request'],
      ['op not a string', '{"op":7}', false, 'bad_request'],
      ['unknown op', '{"op":"broadcast","ref":"u1"}', false, 'unknown_op', 'u1'],
      ['subscribe without topic', '{"op":"subscribe","ref":2}', false, 'bad_request', 2],
      ['topic not a string', '{"op":"subscribe","topic":{"a":1},"ref":"t"}', false, 'bad_request', 't'],
      ['empty topic', '{"op":"subscribe","topic":"","ref":"e"}', false, 'bad_request', 'e'],
      ['a 10 KB topic', JSON.stringify({ op: 'subscribe', topic: 'escrow:'.padEnd(10_240, '9'), ref: 'big' }), false, 'bad_request', 'big'],
      ['since not an id', '{"op":"subscribe","topic":"user:1","since":12345,"ref":"s"}', false, 'bad_request', 's'],
      ['since of the wrong shape', '{"op":"subscribe","topic":"user:1","since":"0000000000000000-0000000g","ref":"s2"}', false, 'bad_request', 's2'],
      ['unsubscribe without topic', '{"op":"unsubscribe"}', false, 'bad_request'],
      ['auth without token', '{"op":"auth","token":42}', false, 'bad_request'],
      ['ref of the wrong type', '{"op":"ping","ref":{"x":1}}', false, 'bad_request'],
      ['a huge ref', JSON.stringify({ op: 'ping', ref: 'r'.repeat(500) }), false, 'bad_request'],
      ['a binary frame', Buffer.from('{"op":"ping"}'), true, 'bad_request'],
    ]
    for (const [name, data, binary, code, ref] of cases) {
      const from = client.frames.length
      client.sendRaw(data, binary)
      const error = await lastError(client, from)
      t.equal(error.code, code, `${name}: ${code}`)
      t.equal(error.ref, ref, `${name}: ref ${ref === undefined ? 'not echoed' : 'echoed'}`)
      t.ok(typeof error.message === 'string' && error.message.length > 0 && error.message.length < 200, `${name}: a short clear message`)
    }
    t.notOk(client.frames.some((f) => JSON.stringify(f).includes('9999999999')), 'a huge topic is never echoed back')
    client.send({ op: 'ping', ref: 'alive' })
    t.same(await client.next((f) => f.op === 'pong'), { op: 'pong', ref: 'alive' }, 'still usable')
    t.equal(client.closeInfo(), undefined)
    t.ok(service.gateway.stats().badFrames >= cases.length)
    await bystanderStillServed('malformed frames')
  })

  t.test('unsubscribe semantics and a subscribe that is still being set up', async (t) => {
    const client = await connectWs(t, port, await signToken('1'))
    client.send({ op: 'unsubscribe', topic: 'user:1', ref: 'u' })
    t.same(await client.next((f) => f.op === 'unsubscribed'), { op: 'unsubscribed', topic: 'user:1', ref: 'u', reason: 'client' }, 'unsubscribing what is not subscribed is answered too')
    // The second frame arrives while the first waits for its membership lookup.
    client.sendRaw(`${JSON.stringify({ op: 'subscribe', topic: 'escrow:1', ref: 'a' })}`)
    client.sendRaw(`${JSON.stringify({ op: 'subscribe', topic: 'escrow:1', ref: 'b' })}`)
    t.equal((await client.next((f) => f.ref === 'a')).op, 'subscribed')
    const second = await client.next((f) => f.ref === 'b')
    t.ok(second.op === 'subscribed' || (second.op === 'error' && second.code === 'bad_request'), 'a duplicate is either confirmed or refused, never doubled')
    const from = client.frames.length
    client.send({ op: 'unsubscribe', topic: 'escrow:1', ref: 'u2' })
    t.same(await client.next((f) => f.op === 'unsubscribed', 10_000, from), { op: 'unsubscribed', topic: 'escrow:1', ref: 'u2', reason: 'client' })
    await flip()
    client.send({ op: 'ping', ref: 'p' })
    await client.next((f) => f.ref === 'p')
    await bystander.next((f) => f.op === 'event' && f.data?.to === (flips % 2 === 0 ? 'funded' : 'in_progress'))
    client.send({ op: 'ping', ref: 'p2' })
    await client.next((f) => f.ref === 'p2')
    t.notOk(client.frames.slice(from).some((f) => f.op === 'event'), 'no event after unsubscribed')
  })

  t.test('at most 100 subscriptions per connection', async (t) => {
    const client = await connectWs(t, port, await adminToken())
    for (let i = 1; i <= 100; i++) client.subscribe(`escrow:${i}`, { ref: i })
    await waitFor(() => client.frames.filter((f) => f.op === 'subscribed').length === 100, 20_000, '100 subscriptions')
    client.subscribe('escrow:101', { ref: 101 })
    const refused = await client.next((f) => f.ref === 101)
    t.same(refused, { op: 'error', ref: 101, code: 'too_many_subscriptions', message: 'at most 100 subscriptions per connection' })
    client.send({ op: 'unsubscribe', topic: 'escrow:1' })
    client.subscribe('escrow:102', { ref: 102 })
    t.equal((await client.next((f) => f.ref === 102)).op, 'subscribed', 'room again after an unsubscribe')
    t.equal(service.gateway.stats().subscriptions, 101, 'the gauge counts live subscriptions (100 + the bystander)')
  })

  t.test('a flood is rate limited, then cut off with 4029', async (t) => {
    const flooder = await connectWs(t, port, await signToken('1'))
    for (let i = 0; i < 600; i++) flooder.send({ op: 'subscribe', topic: `user:${i}`, ref: i })
    const closed = await flooder.closed
    t.equal(closed.code, 4029)
    t.equal(closed.reason, 'rate limited')
    const limited = flooder.frames.filter((f) => f.op === 'error' && f.code === 'rate_limited')
    t.ok(limited.length >= 1, `it was warned ${limited.length} times first`)
    t.same(Object.keys(limited[0]!).sort(), ['code', 'message', 'op'])
    t.ok(service.gateway.stats().rateLimitCloses >= 1)
    await bystanderStillServed('a flood')

    const polite = await connectWs(t, port, await signToken('1'))
    for (let i = 0; i < 5; i++) {
      polite.send({ op: 'ping', ref: i })
      await polite.next((f) => f.ref === i)
    }
    t.equal(polite.closeInfo(), undefined, 'a client within the rate is never limited')
  })

  t.test('frames over the size limit close the socket', async (t) => {
    const over = await connectWs(t, port, await signToken('1'))
    over.sendRaw(JSON.stringify({ op: 'ping', ref: 'x'.repeat(17 * 1024) }))
    t.equal((await over.closed).code, 1009, 'a little over 16 KiB: 1009 message too big')
    const wayOver = await connectWs(t, port, await signToken('1'))
    wayOver.sendRaw('x'.repeat(1024 * 1024))
    const dropped = (await wayOver.closed).code
    t.ok([1006, 1009].includes(dropped), `far over: the connection is dropped by uWS (${dropped})`)
    const notUtf8 = await connectWs(t, port, await signToken('1'))
    notUtf8.sendRaw(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), false)
    const invalid = (await notUtf8.closed).code
    t.ok([1006, 1007].includes(invalid), `a text frame that is not UTF-8 is refused (${invalid})`)
    await bystanderStillServed('oversized frames')
  })

  t.test('idle sockets: pings keep live peers, dead peers are dropped', async (t) => {
    const dead = await connectWs(t, port, await signToken('1'), { autoPong: false })
    const alive = await connectWs(t, port, await signToken('1'))
    let pings = 0
    alive.ws.on('ping', () => { pings++ })
    const closed = await dead.closed
    t.ok(closed.code !== 1000, `a peer that never answers is dropped (${closed.code})`)
    await sleep(500)
    t.equal(alive.closeInfo(), undefined, 'a peer that answers pings stays')
    t.ok(pings >= 1, 'the server pinged it')
  })

  t.equal(service.gateway.stats().connections >= 1, true, 'the server is still serving')
})
