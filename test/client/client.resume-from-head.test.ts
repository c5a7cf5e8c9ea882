import t from 'tap'
import type { ResetInfo, TransportName } from '../../src/client/types.ts'
import { isEventId } from '../../src/event-id.ts'
import { pruneBatch } from '../../src/history/prune.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts'
import { startFeedService } from '../helpers/feed.ts'
import { connectClient, switchboard } from '../helpers/sdk.ts'
import { historyRows } from '../helpers/service.ts'
import { signToken } from '../helpers/tokens.ts'
import { waitFor } from '../helpers/wait.ts'

// Real walcast, real clients, a network that can be cut: the resume point a topic gets
// from `subscribed` and `reset` (their `head`) carries it across the next drop.

const TRANSPORTS: readonly TransportName[] = ['websocket', 'sse', 'polling']

async function seed(tdb: TestDatabase): Promise<void> {
  await tdb.query(`INSERT INTO users (id, display_name) VALUES (1, 'Ada')`)
}

/** Commits notifications for user 1 and waits until the history holds them. */
async function notify(tdb: TestDatabase, ...titles: string[]): Promise<void> {
  for (const title of titles) await tdb.query(`INSERT INTO notifications (user_id, kind, title) VALUES (1, 'k', $1)`, [title])
  const last = titles.at(-1)!
  await waitFor(async () => (await historyRows(tdb)).some((row) => row.payload.title === last), 20_000, `${last} in the history`)
}

const titlesOf = (events: { type: string; data: unknown }[]) => events.map((e) => (e.data as { title: string }).title)
const FAST_RETRY = { initialMs: 100, maxMs: 500 }

t.test('I3: a topic with no event yet resumes from the subscribed head: a drop loses nothing committed meanwhile', async (t) => {
  const tdb = await createTestDatabase(t)
  const { url } = await startFeedService(t, tdb)
  await seed(tdb)
  for (const transport of TRANSPORTS) {
    const net = switchboard()
    const { client, events } = connectClient(t, { url, token: await signToken('1'), transports: [transport], fetch: net.fetch, WebSocket: net.WebSocket, backoff: FAST_RETRY }, ['user:1'])
    await waitFor(() => client.status === 'open', 10_000, `${transport}: open`)
    const head = await waitFor(() => client.lastId('user:1'), 10_000, `${transport}: a resume point before any event`).catch(() => undefined)
    t.ok(isEventId(head), `${transport}: live from the head the server named`)
    net.cut('all')
    await waitFor(() => client.status === 'reconnecting', 10_000, `${transport}: dropped`)
    await notify(tdb, `${transport}: while away 1`, `${transport}: while away 2`)
    net.blocked.clear()
    await waitFor(() => events.length >= 2, 20_000, `${transport}: the events committed during the drop`).catch(() => {})
    await notify(tdb, `${transport}: live`)
    await waitFor(() => titlesOf(events).includes(`${transport}: live`), 15_000, `${transport}: live again`)
    t.same(titlesOf(events), [`${transport}: while away 1`, `${transport}: while away 2`, `${transport}: live`], `${transport}: every event once, in order, none lost to the drop`)
    client.close()
  }
})

t.test('I4: after a reset the client resumes from its head: a drop right after it loses nothing committed since', async (t) => {
  const tdb = await createTestDatabase(t)
  const { service, url } = await startFeedService(t, tdb)
  await seed(tdb)
  for (const transport of TRANSPORTS) {
    const net = switchboard()
    const { client, events } = connectClient(t, { url, token: await signToken('1'), transports: [transport], fetch: net.fetch, WebSocket: net.WebSocket, backoff: FAST_RETRY }, ['user:1'])
    const resets: [string, ResetInfo][] = []
    client.onReset((topic, info) => resets.push([topic, info]))
    await waitFor(() => client.status === 'open', 10_000, `${transport}: open`)
    await waitFor(async () => {
      await notify(tdb, `${transport}: first`)
      return waitFor(() => events.length > 0, 1000, 'first event').catch(() => false)
    }, 15_000, `${transport}: subscribed`)
    const first = events.length

    // Away while what follows its last id is pruned: the resume gets `reset`.
    net.cut('all')
    await waitFor(() => client.status === 'reconnecting', 10_000, `${transport}: dropped`)
    await notify(tdb, `${transport}: pruned`)
    await pruneBatch(service.database.db, new Date(Date.now() + 60_000), 10_000)
    net.blocked.clear()
    const [topic, info] = await waitFor(() => resets[0], 20_000, `${transport}: reset`)
    t.equal(topic, 'user:1')
    t.equal(info?.reason, 'history_gone', `${transport}: the reason reaches onReset`)
    t.ok(isEventId(info?.head), `${transport}: and the head`)
    t.equal(client.lastId('user:1'), info?.head, `${transport}: the head is the resume point`)

    // Dropped again before anything else arrives: the events committed meanwhile come on resume.
    net.cut('all')
    await waitFor(() => client.status === 'reconnecting', 10_000, `${transport}: dropped again`)
    await notify(tdb, `${transport}: after reset 1`, `${transport}: after reset 2`)
    net.blocked.clear()
    await waitFor(() => events.length >= first + 2, 20_000, `${transport}: the events committed since the reset`).catch(() => {})
    await notify(tdb, `${transport}: live`)
    await waitFor(() => titlesOf(events).includes(`${transport}: live`), 15_000, `${transport}: live again`)
    t.same(titlesOf(events).slice(first), [`${transport}: after reset 1`, `${transport}: after reset 2`, `${transport}: live`], `${transport}: nothing committed after the reset is lost, the pruned event is not replayed`)
    t.equal(resets.length, 1, `${transport}: one reset`)
    client.close()
  }
})
