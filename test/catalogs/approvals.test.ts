import t, { type Test } from 'tap'
import { approvalsCatalog } from '../../src/catalogs/approvals/index.ts'
import { startDemoWriter } from '../../src/demo/writer.ts'
import type { Service } from '../../src/service.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts'
import { openSse, startFeedService, type SseReader } from '../helpers/feed.ts'
import { silentLogger } from '../helpers/log.ts'
import { historyRows } from '../helpers/service.ts'
import { adminToken, signToken } from '../helpers/tokens.ts'
import { waitFor } from '../helpers/wait.ts'
import { connectWs, type ServerFrame, type TestWsClient } from '../helpers/ws-client.ts'

const WHEN = '2026-05-06T07:08:09Z'
const ISO = '2026-05-06T07:08:09.000Z'

/** Users 1-3; workspace 10 (users 1 and 2), workspace 20 (user 3). */
async function startApprovals(t: Test): Promise<{ tdb: TestDatabase; service: Service; url: string }> {
  const tdb = await createTestDatabase(t, { prepared: false })
  const { service, url } = await startFeedService(t, tdb, { WALCAST_CATALOG: 'approvals' })
  t.equal(service.catalog.name, 'approvals')
  await tdb.query(`INSERT INTO users (id, display_name, email, phone) VALUES (1, 'Ada', 'ada@example.com', '+15550000001'), (2, 'Sam', 'sam@example.com', null), (3, 'Ari', 'ari@example.com', null)`)
  await tdb.query(`INSERT INTO approvals.workspaces (id, name) VALUES (10, 'Acme'), (20, 'Globex')`)
  await tdb.query(`INSERT INTO approvals.workspace_members (workspace_id, user_id, role) VALUES (10, 1, 'owner'), (10, 2, 'approver'), (20, 3, 'owner')`)
  return { tdb, service, url }
}

const sseFrames = (stream: SseReader): ServerFrame[] => stream.messages.map((m) => JSON.parse(m.data) as ServerFrame)
const label = (f: ServerFrame): string => (f.op === 'event' ? String(f.type) : `${f.op}${f.reason ? `:${f.reason}` : ''}`)
const ofTopic = (frames: ServerFrame[], topic: string): string[] => frames.filter((f) => f.topic === topic).map(label)

t.test('I13: approvals: every event on its workspace or user topic, with only allowlisted columns; no event for a no-op, an unlisted column or a TOAST-unchanged update', async (t) => {
  const { tdb, service } = await startApprovals(t)
  const ada = await connectWs(t, service.http.port, await signToken('1'))
  for (const topic of ['workspace:10', 'user:1']) t.equal((await ada.subscribeAndWait(topic)).op, 'subscribed', `a member reads ${topic}`)

  const q = (text: string) => tdb.query(text)
  await q(`INSERT INTO approvals.approvals (id, workspace_id, title, description, requested_by, created_at, requester_email, internal_note)
           VALUES (100, 10, 'Laptops', 'Two of them', 1, '${WHEN}', 'ada@example.com', 'secret-note')`)
  await q(`UPDATE approvals.approvals SET internal_note = 'secret-edit', requester_email = 'other@example.com' WHERE id = 100`)
  await q(`UPDATE approvals.approvals SET status = status, title = title WHERE id = 100`)
  await q(`UPDATE approvals.approvals SET status = 'approved', decided_by = 2, decided_at = '${WHEN}' WHERE id = 100`)
  // A description large enough to be stored out of line: an update of other columns sends it as "unchanged TOAST".
  await q(`INSERT INTO approvals.approvals (id, workspace_id, title, description, requested_by, created_at)
           VALUES (101, 10, 'Big', (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 400) g), 2, '${WHEN}')`)
  await q(`UPDATE approvals.approvals SET internal_note = 'toasted-edit' WHERE id = 101`)
  await q(`UPDATE approvals.approvals SET status = 'rejected' WHERE id = 101`)
  await q(`DELETE FROM approvals.approvals WHERE id = 100`)
  await q(`INSERT INTO approvals.agents (id, workspace_id, name, api_key) VALUES (7, 10, 'invoice-bot', 'sk-live-secret')`)
  await q(`UPDATE approvals.agents SET updated_at = now(), api_key = 'sk-rotated' WHERE id = 7`)
  await q(`UPDATE approvals.agents SET status = 'running' WHERE id = 7`)
  await q(`UPDATE approvals.agents SET status = 'running', updated_at = now() WHERE id = 7`)
  await q(`INSERT INTO approvals.chat_messages (id, workspace_id, author_id, body, sent_at) VALUES (500, 10, 2, 'Looks good', '${WHEN}'), (501, 20, 3, 'other tenant', '${WHEN}')`)
  await q(`INSERT INTO approvals.notifications (id, user_id, workspace_id, kind, title, body, created_at) VALUES (900, 2, 10, 'approval', 'For Sam', '', '${WHEN}'), (901, 1, 10, 'approval', 'For Ada', 'approved', '${WHEN}')`)
  await q(`DELETE FROM approvals.workspace_members WHERE workspace_id = 10 AND user_id = 2`)
  await q(`INSERT INTO approvals.chat_messages (id, workspace_id, author_id, body, sent_at) VALUES (502, 10, 1, 'after Sam', '${WHEN}')`)

  const frames = await waitFor(() => ada.events('workspace:10').length >= 10 ? ada.events('workspace:10') : undefined, 20_000, 'the workspace events')
  const big = (await tdb.query<{ d: string }>(`SELECT description AS d FROM approvals.approvals WHERE id = 101`)).rows[0]!.d
  t.same(frames.map((f) => [f.type, f.data]), [
    ['approval.created', { approvalId: '100', workspaceId: '10', title: 'Laptops', description: 'Two of them', status: 'pending', requestedBy: '1', createdAt: ISO }],
    ['approval.updated', { approvalId: '100', workspaceId: '10', title: 'Laptops', description: 'Two of them', status: 'approved', decidedBy: '2', decidedAt: ISO }],
    ['approval.created', { approvalId: '101', workspaceId: '10', title: 'Big', description: big, status: 'pending', requestedBy: '2', createdAt: ISO }],
    ['approval.updated', { approvalId: '101', workspaceId: '10', title: 'Big', description: big, status: 'rejected', decidedBy: null, decidedAt: null }],
    ['approval.deleted', { approvalId: '100', workspaceId: '10' }],
    ['agent.status.changed', { agentId: '7', workspaceId: '10', name: 'invoice-bot', from: null, to: 'idle' }],
    ['agent.status.changed', { agentId: '7', workspaceId: '10', name: 'invoice-bot', from: 'idle', to: 'running' }],
    ['chat.message', { messageId: '500', workspaceId: '10', authorId: '2', body: 'Looks good', sentAt: ISO }],
    ['member.left', { workspaceId: '10', userId: '2' }],
    ['chat.message', { messageId: '502', workspaceId: '10', authorId: '1', body: 'after Sam', sentAt: ISO }],
  ], 'the no-op, the unlisted-column, the TOAST-unchanged and the heartbeat updates are no event; nothing of workspace 20')
  t.ok(big.length > 10_000, 'the description is large enough to be TOASTed')
  const mine = await waitFor(() => ada.events('user:1').length >= 1 ? ada.events('user:1') : undefined, 15_000, 'Ada\'s notification')
  t.same(mine.map((f) => [f.type, f.data]), [
    ['notification.new', { notificationId: '901', workspaceId: '10', kind: 'approval', title: 'For Ada', body: 'approved', createdAt: ISO }],
  ], 'Ada gets her notification, not Sam\'s')
  t.same(ada.frames.filter((f) => f.op === 'event' && !['workspace:10', 'user:1'].includes(String(f.topic))), [], 'and nothing of another topic')

  const rows = await historyRows(tdb)
  t.same(rows.map((r) => `${r.type} ${r.topics.join(',')}`).filter((l) => l.includes('workspace:20') || l.includes('user:2')),
    ['chat.message workspace:20', 'notification.new user:2'], 'the other tenant\'s chat and Sam\'s notification go to their own topics')
  t.ok(rows.every((r) => r.topics.length === 1 && /^(workspace|user):\d+$/.test(r.topics[0]!)), 'every event goes to exactly one workspace or user topic')
  const text = JSON.stringify(rows)
  for (const secret of ['example.com', 'secret-note', 'secret-edit', 'toasted-edit', 'sk-live-secret', 'sk-rotated', 'requesterEmail', 'internalNote', 'apiKey', 'Globex', '+1555']) {
    t.notOk(text.includes(secret), `no payload carries ${secret}`)
  }
})

t.test('approvals access: a member reads its workspace; a non-member, a guessed id and an admin get the identical refusal; user topics are their own user\'s only', async (t) => {
  const { tdb, service, url } = await startApprovals(t)
  const ada = await connectWs(t, service.http.port, await signToken('1'))
  t.equal((await ada.subscribeAndWait('workspace:10')).op, 'subscribed', 'a member reads its workspace')
  t.equal((await ada.subscribeAndWait('user:1')).op, 'subscribed', 'and its own user topic')
  const foreign = await ada.subscribeAndWait('workspace:20', { ref: 'r' })
  const guessed = await ada.subscribeAndWait('workspace:424242', { ref: 'r' })
  t.same([foreign.op, foreign.code], ['error', 'forbidden'], 'another tenant\'s workspace is refused')
  t.same({ ...guessed, topic: undefined }, { ...foreign, topic: undefined }, 'a guessed workspace id gets the identical answer')
  const queries = service.authorizer.stats().membershipQueries
  const malformed = await ada.subscribeAndWait('workspace:01', { ref: 'r' })
  t.same({ ...malformed, topic: undefined }, { ...foreign, topic: undefined }, 'so does a malformed one')
  t.equal(service.authorizer.stats().membershipQueries, queries + 1, 'through the same query')
  const other = await ada.subscribeAndWait('user:2', { ref: 'r' })
  t.same([other.op, other.code], ['error', 'forbidden'], 'another user\'s notifications are refused')

  const admin = await connectWs(t, service.http.port, await adminToken('99'))
  const byAdmin = await admin.subscribeAndWait('workspace:10', { ref: 'r' })
  t.same({ ...byAdmin, topic: undefined }, { ...foreign, topic: undefined }, 'tenant isolation: an admin who is no member is refused too')
  t.equal((await admin.subscribeAndWait('user:2', { ref: 'r' })).code, 'forbidden', 'and reads no one\'s notifications')

  const auth = { authorization: `Bearer ${await signToken('1')}` }
  const sseForeign = await openSse(`${url}/v1/sse?topic=workspace:20`, auth)
  const sseGuessed = await openSse(`${url}/v1/sse?topic=workspace:424242`, auth)
  t.equal(sseForeign.status, 403, 'SSE: a foreign workspace is refused')
  t.same([sseGuessed.status, JSON.stringify(sseGuessed.body).replaceAll('424242', '20')], [sseForeign.status, JSON.stringify(sseForeign.body)], 'SSE: a guessed one identically')
  const pollForeign = await fetch(`${url}/v1/events?topic=workspace:20`, { headers: auth })
  const pollGuessed = await fetch(`${url}/v1/events?topic=workspace:424242`, { headers: auth })
  t.same([pollGuessed.status, (await pollGuessed.text()).replaceAll('424242', '20')], [pollForeign.status, await pollForeign.text()], 'polling: the same')
  t.equal(pollForeign.status, 403)
  t.equal((await fetch(`${url}/v1/events?topic=workspace:10`, { headers: auth })).status, 200, 'polling: a member reads its workspace')
})

t.test('I7: removing a member from a workspace revokes their live subscription at once on the WebSocket and SSE; the other members go on', async (t) => {
  const { tdb, service, url } = await startApprovals(t)
  const token = await signToken('2')
  const sam = await connectWs(t, service.http.port, token)
  for (const topic of ['workspace:10', 'user:2']) t.equal((await sam.subscribeAndWait(topic)).op, 'subscribed')
  const sse = await openSse(`${url}/v1/sse?topic=workspace:10&topic=user:2`, { authorization: `Bearer ${token}` })
  t.teardown(() => sse.close())
  await waitFor(() => sseFrames(sse).filter((f) => f.op === 'subscribed').length === 2, 10_000, 'SSE live')
  const ada = await connectWs(t, service.http.port, await signToken('1'))
  t.equal((await ada.subscribeAndWait('workspace:10')).op, 'subscribed')

  await tdb.query(`INSERT INTO approvals.chat_messages (workspace_id, author_id, body) VALUES (10, 1, 'before')`)
  await tdb.query(`DELETE FROM approvals.workspace_members WHERE workspace_id = 10 AND user_id = 2`)
  await tdb.query(`INSERT INTO approvals.approvals (workspace_id, title, requested_by) VALUES (10, 'after Sam left', 1)`)
  await tdb.query(`INSERT INTO approvals.notifications (user_id, kind, title) VALUES (2, 'k', 'marker')`)
  await sam.next((f) => f.op === 'event' && f.topic === 'user:2' && f.data?.title === 'marker', 15_000)
  await waitFor(() => sseFrames(sse).some((f) => f.op === 'event' && f.data?.title === 'marker'), 15_000, 'the marker on SSE')
  await ada.next((f) => f.type === 'approval.created')

  t.same(ofTopic(sam.frames, 'workspace:10'), ['subscribed', 'chat.message', 'member.left', 'unsubscribed:revoked'], 'WebSocket: up to and including member.left, then revoked; not the later approval')
  t.same(ofTopic(sseFrames(sse), 'workspace:10'), ['subscribed', 'chat.message', 'member.left', 'unsubscribed:revoked'], 'SSE: the same')
  t.equal(sse.ended(), false, 'the SSE stream goes on with the user topic')
  t.same(ofTopic(ada.frames, 'workspace:10'), ['subscribed', 'chat.message', 'member.left', 'approval.created'], 'a remaining member sees the leaving and what follows')
  t.equal((await sam.subscribeAndWait('workspace:10', { ref: 'again' })).code, 'forbidden', 'the removed member cannot subscribe again')
  t.equal((await fetch(`${url}/v1/events?topic=workspace:10`, { headers: { authorization: `Bearer ${token}` } })).status, 403, 'nor poll it')
})

t.test('the approvals demo: seeded once, bounded, and a writer whose script produces every event', async (t) => {
  const tdb = await createTestDatabase(t, { prepared: false })
  const { service } = await startFeedService(t, tdb, { WALCAST_CATALOG: 'approvals' })
  const db = service.database.db
  await approvalsCatalog.demo!.seed(db, silentLogger())
  await approvalsCatalog.demo!.seed(db, silentLogger())
  const counts = await tdb.query<{ users: number; members: number; approvals: number }>(`SELECT
    (SELECT count(*)::int FROM users) AS users, (SELECT count(*)::int FROM approvals.workspace_members) AS members, (SELECT count(*)::int FROM approvals.approvals) AS approvals`)
  t.same(counts.rows[0], { users: 3, members: 3, approvals: 1 }, 'seeded once')
  const writer = startDemoWriter(db, silentLogger(), 0, approvalsCatalog.demo!)
  const steps: string[] = []
  for (let i = 0; i < 8; i++) steps.push(await writer.step())
  await writer.stop()
  t.match(steps[0], /^approval \d+ requested$/)
  t.match(steps[6], /: archived$/)
  t.match(steps[7], /^approval \d+ requested$/, 'then the next approval')
  const rows = await waitFor(async () => {
    const all = await historyRows(tdb)
    return all.filter((r) => r.type === 'approval.created').length >= 3 ? all : undefined
  }, 20_000, 'the seeded approval and two of the writer')
  const types = new Set(rows.map((r) => r.type))
  t.same([...types].sort(), Object.keys(approvalsCatalog.events).sort(), 'every event type of the catalog')
  t.notOk(JSON.stringify(rows).includes('example.com'), 'no e-mail in any payload')
  const sequence = rows.filter((r) => r.topics[0] === 'workspace:1').map((r) => r.type)
  t.same(sequence, [
    'agent.status.changed', 'agent.status.changed', 'approval.created', // the seed
    'approval.created', 'agent.status.changed', 'chat.message', 'chat.message', 'member.left', 'approval.updated', 'agent.status.changed', 'approval.deleted',
    'approval.created',
  ], 'the seed, then one approval\'s life, then the next')
  t.same(rows.filter((r) => r.type === 'notification.new').map((r) => r.topics[0]), ['user:2', 'user:1'], 'Sam is asked, Ada is told')
  await tdb.query(`INSERT INTO approvals.chat_messages (workspace_id, author_id, body) SELECT 1, 1, 'm' || g FROM generate_series(1, 80) g`)
  const again = startDemoWriter(db, silentLogger(), 0, approvalsCatalog.demo!)
  for (let i = 0; i < 7; i++) await again.step()
  await again.stop()
  const left = await tdb.query<{ n: number }>(`SELECT count(*)::int AS n FROM approvals.chat_messages`)
  t.ok(left.rows[0]!.n <= 51, `chat is pruned to its last 50 rows (${left.rows[0]!.n})`)
})
