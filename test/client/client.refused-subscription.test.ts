import t from 'tap'
import type { SubscriptionState } from '../../src/client/types.ts'
import { createTestDatabase } from '../helpers/db.ts'
import { startFeedService } from '../helpers/feed.ts'
import { connectClient } from '../helpers/sdk.ts'
import { waitForHistory } from '../helpers/service.ts'
import { signToken } from '../helpers/tokens.ts'
import { waitFor } from '../helpers/wait.ts'

t.test('a subscription the server refuses is a visible state, never hidden behind an open connection', async (t) => {
  const tdb = await createTestDatabase(t)
  const { url } = await startFeedService(t, tdb, { WALCAST_WS_MAX_SUBSCRIPTIONS: '2' })
  await tdb.query(`INSERT INTO users (id, display_name) VALUES (1, 'Ada')`)
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency) VALUES (1, 'A', 1, 'EUR'), (2, 'B', 1, 'EUR'), (3, 'C', 1, 'EUR')`)
  await tdb.query(`INSERT INTO escrow_parties (escrow_id, user_id, role, accepted_at) VALUES (1, 1, 'buyer', now()), (2, 1, 'buyer', now())`)
  await waitForHistory(tdb, 5)

  const { client, events } = connectClient(t, { url, token: await signToken('1'), transports: ['websocket'] }, ['escrow:1', 'escrow:2'])
  const seen: [string, SubscriptionState][] = []
  client.onSubscriptionState((topic, state) => seen.push([topic, state]))
  await waitFor(() => client.subscriptionState('escrow:1')?.state === 'live' && client.subscriptionState('escrow:2')?.state === 'live', 10_000, 'both live')
  t.equal(client.status, 'open')

  client.subscribe('user:1', () => {})
  await waitFor(() => client.subscriptionState('user:1')?.state === 'refused', 10_000, 'the third refused')
  t.match(client.subscriptionState('user:1'), { state: 'refused', code: 'too_many_subscriptions' }, 'over the limit: refused with its code')
  t.equal(client.status, 'open', 'while the connection itself is open')
  t.ok(seen.some(([topic, state]) => topic === 'user:1' && state.state === 'pending'), 'pending first')

  client.subscribe('escrow:3', () => t.fail('never delivered'))
  await waitFor(() => client.subscriptionState('escrow:3')?.state === 'refused', 10_000, 'escrow 3 refused')
  t.match(client.subscriptionState('escrow:3'), { state: 'refused', code: 'too_many_subscriptions' }, 'each refused topic has its own state')

  // A revocation while live turns a live topic into a refused one.
  await tdb.query(`DELETE FROM escrow_parties WHERE escrow_id = 2 AND user_id = 1`)
  await waitFor(() => client.subscriptionState('escrow:2')?.state === 'refused', 10_000, 'escrow 2 revoked')
  t.match(client.subscriptionState('escrow:2'), { state: 'refused', code: 'revoked' })
  t.equal(client.subscriptionState('escrow:1')?.state, 'live', 'the others stay live')
  t.ok(events.every((e) => e.topic !== 'escrow:3'))
  client.close()
})

t.test('polling: a forbidden topic is refused, the follow set goes live', async (t) => {
  const tdb = await createTestDatabase(t)
  const { url } = await startFeedService(t, tdb)
  await tdb.query(`INSERT INTO users (id, display_name) VALUES (1, 'Ada'), (2, 'Sam')`)
  const { client } = connectClient(t, { url, token: await signToken('1'), transports: ['polling'] }, ['user:1:escrows', 'user:2:escrows'])
  await waitFor(() => client.subscriptionState('user:2:escrows')?.state === 'refused' && client.subscriptionState('user:1:escrows')?.state === 'live', 10_000, 'states')
  t.match(client.subscriptionState('user:2:escrows'), { state: 'refused', code: 'forbidden' })
  const unsubscribe = client.subscribe('user:2:escrows', () => {})
  unsubscribe()
  t.equal(client.subscriptionState('user:2:escrows'), undefined, 'unsubscribing forgets a refused topic')
  client.close()
})
