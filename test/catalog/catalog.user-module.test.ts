import t from 'tap'
import { openSse, startFeedService } from '../helpers/feed.ts'
import { createTestDatabase } from '../helpers/db.ts'
import { historyRows } from '../helpers/service.ts'
import { signToken } from '../helpers/tokens.ts'
import { waitFor } from '../helpers/wait.ts'
import { connectWs } from '../helpers/ws-client.ts'
import { cliEnv, runCli } from '../helpers/cli.ts'
import WebSocket from 'ws'
import { createClient } from '../../src/client/index.ts'
import type { WalcastEvent, WebSocketConstructor } from '../../src/client/types.ts'
import type { ProjectEvents } from '../fixtures/catalog-projects.ts'

const CATALOG = 'test/fixtures/catalog-projects.ts'

t.test('I13: a catalog module written outside src/ runs end to end through WALCAST_CATALOG=<path>', async (t) => {
  const tdb = await createTestDatabase(t, { prepared: false })
  const { service, url } = await startFeedService(t, tdb, { WALCAST_CATALOG: CATALOG })
  const port = service.http.port
  t.equal(service.catalog.name, 'projects')
  const published = await tdb.query<{ t: string }>(`SELECT string_agg(schemaname || '.' || tablename, ',' ORDER BY schemaname || '.' || tablename COLLATE "C") AS t FROM pg_publication_tables WHERE pubname = 'walcast'`)
  t.equal(published.rows[0]!.t, 'app.project_members,app.projects,app.tasks', 'the publication follows the catalog')
  const escrow = await tdb.query(`SELECT 1 FROM pg_tables WHERE tablename = 'escrows'`)
  t.equal(escrow.rowCount, 0, 'walcast\'s own migrations no longer create the escrow tables')

  await tdb.query(`INSERT INTO app.projects (id, owner_id, name, budget_note) VALUES (1, 10, 'Alpha', 'secret-budget'), (2, 20, 'Beta', '')`)
  await tdb.query(`INSERT INTO app.project_members (project_id, user_id) VALUES (1, 10), (1, 11), (2, 20)`)

  const member = await connectWs(t, port, await signToken('11'))
  const owner = await connectWs(t, port, await signToken('10'))
  t.equal((await member.subscribeAndWait('project:1')).op, 'subscribed', 'a member reads its project (membership table)')
  t.equal((await owner.subscribeAndWait('project:1')).op, 'subscribed')
  const foreign = await member.subscribeAndWait('project:2', { ref: 'f' })
  const guessed = await member.subscribeAndWait('project:424242', { ref: 'f' })
  t.same([foreign.op, foreign.code], ['error', 'forbidden'], 'a foreign project is refused')
  t.same({ ...guessed, topic: undefined }, { ...foreign, topic: undefined }, 'a guessed id gets the identical answer')
  t.equal((await member.subscribeAndWait('project:01', { ref: 'x' })).code, 'forbidden', 'a non-canonical id names no topic')
  t.equal((await member.subscribeAndWait('team:1', { ref: 'x' })).code, 'forbidden', 'a topic no rule covers is refused')
  t.equal((await member.subscribeAndWait('owner:1', { ref: 'x' })).code, 'forbidden', 'owner:1 is for the owner column\'s user only')
  t.equal((await member.subscribeAndWait('ops:renames', { ref: 'x' })).code, 'forbidden', 'ops:renames needs the role')

  // The owner on SSE (owner column rule); an ops user by role claim.
  const ownerSse = await openSse(`${url}/v1/sse?topic=owner:1`, { authorization: `Bearer ${await signToken('10')}` })
  t.teardown(() => ownerSse.close())
  t.equal(ownerSse.status, 200, 'the owner reads owner:1')
  const ops = await connectWs(t, port, await signToken('77', { role: 'ops' }))
  t.equal((await ops.subscribeAndWait('ops:renames')).op, 'subscribed', 'the role claim grants ops:renames')
  const opsByList = await connectWs(t, port, await signToken('78', { claims: { roles: ['viewer', 'ops'] } }))
  t.equal((await opsByList.subscribeAndWait('ops:renames')).op, 'subscribed', 'so does a roles list')
  const notOwner = await openSse(`${url}/v1/sse?topic=owner:2`, { authorization: `Bearer ${await signToken('10')}` })
  t.equal(notOwner.status, 403, 'another owner\'s topic is refused on SSE too')

  // The SDK, typed by the catalog's own event map: `data` narrows with `type`.
  const sdk = createClient<ProjectEvents>({ url, token: await signToken('10'), WebSocket: WebSocket as unknown as WebSocketConstructor, transports: ['websocket'] })
  t.teardown(() => sdk.close())
  const sdkSaw: string[] = []
  const live = service.gateway.stats().subscriptions
  sdk.subscribe('project:1', (event: WalcastEvent<ProjectEvents>) => {
    sdkSaw.push(event.type === 'task.created' ? `created ${event.data.title}` : event.type === 'member.removed' ? `removed ${event.data.userId}` : event.type)
  })
  await waitFor(() => service.gateway.stats().subscriptions === live + 1, 15_000, 'the SDK\'s subscription live')

  await tdb.query(`INSERT INTO app.tasks (id, project_id, title, private_note) VALUES (5, 1, 'Write docs', 'do-not-leak')`)
  await tdb.query(`UPDATE app.tasks SET private_note = 'still-private' WHERE id = 5`)
  await tdb.query(`UPDATE app.tasks SET done = true WHERE id = 5`)
  await tdb.query(`UPDATE app.tasks SET done = true WHERE id = 5`)
  await tdb.query(`UPDATE app.projects SET name = 'Alpha 2', budget_note = 'secret-budget-2' WHERE id = 1`)
  const memberSees = await waitFor(() => member.events('project:1').length >= 2 ? member.events('project:1') : undefined, 15_000, 'the member\'s events')
  t.same(memberSees.map((e) => [e.type, e.data]), [
    ['task.created', { taskId: '5', projectId: '1', title: 'Write docs' }],
    ['task.done', { taskId: '5', projectId: '1' }],
  ], 'insert and a real update: events; a change outside the allowlist and a no-op update: none')
  await waitFor(() => ownerSse.messages.some((m) => m.event === 'project.renamed'), 15_000, 'the rename on the owner\'s SSE stream')
  const renamed = JSON.parse(ownerSse.messages.find((m) => m.event === 'project.renamed')!.data) as { topic: string; type: string; data: unknown }
  t.same([renamed.topic, renamed.type, renamed.data], ['owner:1', 'project.renamed', { projectId: '1', name: 'Alpha 2' }], 'the owner reads it on SSE')
  await ops.next((f) => f.op === 'event' && f.type === 'project.renamed')

  // Revocation: the membership row goes, and the member's live subscription with it.
  await tdb.query(`DELETE FROM app.project_members WHERE project_id = 1 AND user_id = 11`)
  await member.next((f) => f.op === 'unsubscribed' && f.topic === 'project:1' && f.reason === 'revoked')
  await tdb.query(`INSERT INTO app.tasks (id, project_id, title) VALUES (6, 1, 'After')`)
  await owner.next((f) => f.op === 'event' && f.type === 'task.created' && f.data?.taskId === '6')
  t.same(member.events('project:1').map((e) => e.type), ['task.created', 'task.done', 'member.removed'], 'up to and including its own removal, nothing after')
  t.equal((await member.subscribeAndWait('project:1', { ref: 'again' })).code, 'forbidden', 'and it cannot come back')
  t.equal(service.authorizer.stats().revocations, 1)
  await waitFor(() => sdkSaw.length === 4 ? sdkSaw : undefined, 15_000, 'the SDK\'s events')
  t.same(sdkSaw, ['created Write docs', 'task.done', 'removed 11', 'created After'], 'the typed SDK gets every event of the topic')

  const rows = await historyRows(tdb)
  const text = JSON.stringify(rows)
  for (const secret of ['do-not-leak', 'still-private', 'secret-budget', 'owner_id', 'budget_note']) {
    t.notOk(text.includes(secret), `no event carries ${secret}`)
  }
})

t.test('walcast migrate, publication show and doctor follow the catalog module', async (t) => {
  const tdb = await createTestDatabase(t, { prepared: false })
  const env = cliEnv(tdb, { WALCAST_CATALOG: CATALOG })
  const migrate = await runCli(['migrate', '--json'], env)
  t.equal(migrate.code, 0, migrate.stderr)
  t.same(JSON.parse(migrate.stdout).catalog, { name: 'projects', schema: 'applied' })
  const again = await runCli(['migrate', '--json'], env)
  t.same(JSON.parse(again.stdout).catalog, { name: 'projects', schema: 'present' }, 'applied once; then its tables are left as they are')
  const sync = await runCli(['publication', 'sync', '--json'], env)
  t.same(JSON.parse(sync.stdout), { publication: 'walcast', created: true, added: ['app.project_members', 'app.projects', 'app.tasks'], removed: [] })
  await tdb.query('ALTER TABLE app.tasks REPLICA IDENTITY DEFAULT')
  const doctor = await runCli(['doctor', '--json'], env)
  const checks = JSON.parse(doctor.stdout).sections.flatMap((s: { checks: unknown[] }) => s.checks) as { id: string; status: string }[]
  t.same(checks.filter((c) => c.id.startsWith('replica_identity.')).map((c) => [c.id, c.status]), [
    ['replica_identity.app.project_members', 'pass'],
    ['replica_identity.app.projects', 'pass'],
    ['replica_identity.app.tasks', 'fail'],
  ], 'doctor checks the catalog\'s tables and the identities it asks for')
})
