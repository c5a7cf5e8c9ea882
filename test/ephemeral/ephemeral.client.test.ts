import t from 'tap'
import WebSocket from 'ws'
import { createClient } from '../../src/client/index.ts'
import type { EphemeralMessage, PresenceChange, ServerErrorInfo, WalcastClient, WebSocketConstructor } from '../../src/client/index.ts'
import { startFeedService } from '../helpers/feed.ts'
import { createTestDatabase } from '../helpers/db.ts'
import { waitForHistory } from '../helpers/service.ts'
import { signToken } from '../helpers/tokens.ts'
import { waitFor } from '../helpers/wait.ts'
import type { ChatEvents } from '../fixtures/catalog-chat.ts'

t.test('I16: the SDK publishes, receives ephemeral messages and presence, reports refusals by topic, and keeps them out of the resume point', async (t) => {
  const tdb = await createTestDatabase(t, { prepared: false })
  const { service, url } = await startFeedService(t, tdb, { WALCAST_CATALOG: 'test/fixtures/catalog-chat.ts' })
  await tdb.query(`INSERT INTO chat.rooms (id, title) VALUES (1, 'one')`)
  await tdb.query(`INSERT INTO chat.members (room_id, user_id) VALUES (1, 10), (1, 11)`)
  const open = async (user: string): Promise<WalcastClient<ChatEvents>> => {
    const client = createClient<ChatEvents>({ url, token: await signToken(user), WebSocket: WebSocket as unknown as WebSocketConstructor, transports: ['websocket'] })
    t.teardown(() => client.close())
    return client
  }
  const alice = await open('10')
  const bob = await open('11')
  const seen: EphemeralMessage[] = []
  const changes: PresenceChange[] = []
  const errors: ServerErrorInfo[] = []
  // A listener that throws stops no other listener.
  bob.onEphemeral(() => { throw new Error('an application bug') })
  bob.onEphemeral((m) => seen.push(m))
  alice.onPresence((c) => changes.push(c))
  alice.onError((e) => errors.push(e))
  const events: string[] = []
  alice.subscribe('chat:1', (e) => events.push(e.type))
  await waitFor(() => alice.subscriptionState('chat:1')?.state === 'live', 15_000, 'alice live')
  t.same(await alice.presence('chat:1'), ['10'], 'presence() lists who is there')
  bob.subscribe('chat:1', () => {})
  await waitFor(() => bob.subscriptionState('chat:1')?.state === 'live', 15_000, 'bob live')
  await waitFor(() => changes.length === 1, 5000, 'bob\'s join')
  t.same(changes, [{ topic: 'chat:1', joined: '11' }])

  await tdb.query(`INSERT INTO chat.messages (id, room_id, user_id, body) VALUES (1, 1, 11, 'hi')`)
  const [row] = await waitForHistory(tdb, 1)
  await waitFor(() => alice.lastId('chat:1') === row!.id, 10_000, 'alice has the event')
  t.equal(alice.publish('chat:1', 'chat:typing', { on: true }), true, 'sent')
  await waitFor(() => seen.length === 1, 5000, 'bob sees alice typing')
  t.same({ ...seen[0], ts: undefined }, { topic: 'chat:1', type: 'chat:typing', data: { on: true }, from: '10', ts: undefined })
  t.equal(alice.lastId('chat:1'), row!.id, 'an ephemeral message moves no resume point')

  t.equal(alice.publish('chat:1', 'chat:yelling'), true)
  t.equal(alice.publish('chat:2', 'chat:typing'), true)
  await waitFor(() => errors.length === 2, 5000, 'two refusals')
  t.same(errors.map((e) => [e.topic, e.code]), [['chat:1', 'not_ephemeral'], ['chat:2', 'forbidden']], 'refusals reach onError with their topic')
  t.equal(alice.subscriptionState('chat:1')?.state, 'live', 'and leave the subscription alone')
  await t.rejects(alice.presence('room:1'), { code: 'not_ephemeral' }, 'a presence query on a topic without presence is rejected')

  const asked = bob.presence('chat:1')
  bob.close()
  await t.rejects(asked, /client was closed before the presence answer/, 'a pending query is rejected when the client closes')
  await waitFor(() => changes.length === 2, 5000, 'bob\'s leave')
  t.same(changes[1], { topic: 'chat:1', left: '11' })
  t.equal(bob.publish('chat:1', 'chat:typing'), false, 'a closed client sends nothing')
  await t.rejects(bob.presence('chat:1'), /open WebSocket/)
  t.same(events, ['chat:message'], 'events stay what they were')
  t.equal(service.ephemeral.stats().published, 1)
})
