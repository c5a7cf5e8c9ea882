import fs from 'node:fs'
import t from 'tap'
import { createTestDatabase } from '../helpers/db.ts'
import { startTestService, waitForHistory } from '../helpers/service.ts'
import { authEnv, signToken } from '../helpers/tokens.ts'
import { waitFor } from '../helpers/wait.ts'
import { connectWs } from '../helpers/ws-client.ts'

const ANY = '…'

/** The transcript of docs/protocol.md: `>` lines to send, `<` frames to expect. */
function transcript(): { dir: '>' | '<'; text: string }[] {
  const doc = fs.readFileSync('docs/protocol.md', 'utf8')
  const section = doc.slice(doc.indexOf('## Transcript'))
  const block = /```text\n([\s\S]*?)```/.exec(section)
  if (!block) throw new Error('docs/protocol.md has no transcript block')
  return block[1]!.trim().split('\n').map((line) => ({ dir: line[0] as '>' | '<', text: line.slice(2) }))
}

/** `expected` with `…` matching any value; keys must be the same. */
function matches(expected: unknown, actual: unknown): boolean {
  if (expected === ANY) return actual !== undefined
  if (expected === null || typeof expected !== 'object') return expected === actual
  if (actual === null || typeof actual !== 'object') return false
  const e = expected as Record<string, unknown>
  const a = actual as Record<string, unknown>
  const keys = Object.keys(e).sort()
  return JSON.stringify(keys) === JSON.stringify(Object.keys(a).sort()) && keys.every((k) => matches(e[k], a[k]))
}

t.test('the transcript in docs/protocol.md is what walcast says', async (t) => {
  const lines = transcript()
  t.ok(lines.length >= 10, 'the transcript is there')
  const tdb = await createTestDatabase(t)
  const service = await startTestService(t, tdb, authEnv())
  await tdb.query(`INSERT INTO users (id, display_name) VALUES (1, 'U')`)
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency, status) VALUES (1, 'E', 1, 'EUR', 'funded'), (2, 'Other', 1, 'EUR', 'funded')`)
  // Invited, not accepted: a party without a party_joined event.
  await tdb.query(`INSERT INTO escrow_parties (escrow_id, user_id, role) VALUES (1, 1, 'buyer')`)
  const [first] = await waitForHistory(tdb, 2)
  await waitFor(() => (service.hub.lastId() ?? '') >= first!.id, 10_000, 'the first event published')

  const client = await connectWs(t, service.http.port, await signToken('1'))
  let received = 0
  for (const line of lines) {
    if (line.dir === '>') {
      client.sendRaw(line.text)
      continue
    }
    const expected = JSON.parse(line.text) as Record<string, unknown>
    const frame = await waitFor(() => client.frames[received], 15_000, `a frame matching ${line.text}`)
    received++
    t.ok(matches(expected, frame), `< ${line.text}`, { found: frame })
    if (frame.op === 'subscribed' && frame.ref === 's1') await tdb.query(`UPDATE escrows SET status = 'in_progress' WHERE id = 1`)
  }
  client.send({ op: 'ping', ref: 'end' })
  await client.next((f) => f.ref === 'end')
  t.equal(client.frames.length, received + 1, 'and nothing else')
})
