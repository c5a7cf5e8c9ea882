import type { TestDatabase } from './db.ts'
import { waitForHistory } from './service.ts'
import { waitFor } from './wait.ts'

/** Escrow 1 ('A', 1 EUR) with these users as accepted parties: [id, display name, role]. */
export async function seedEscrow(tdb: TestDatabase, parties: readonly (readonly [userId: number, name: string, role: string])[]): Promise<void> {
  await tdb.query(`INSERT INTO users (id, display_name) SELECT * FROM unnest($1::bigint[], $2::text[])`, [parties.map((p) => p[0]), parties.map((p) => p[1])])
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency) VALUES (1, 'A', 1, 'EUR')`)
  await tdb.query(`INSERT INTO escrow_parties (escrow_id, user_id, role, accepted_at) SELECT 1, u, r, now() FROM unnest($1::bigint[], $2::text[]) AS x(u, r)`, [parties.map((p) => p[0]), parties.map((p) => p[2])])
}

/** Waits until the history holds `n` events and the hub has published the newest; returns its id. */
export async function waitPublished(service: { hub: { lastId(): string | undefined } }, tdb: TestDatabase, n: number): Promise<string> {
  const newest = (await waitForHistory(tdb, n)).at(-1)!.id
  await waitFor(() => (service.hub.lastId() ?? '') >= newest, 10_000, 'the events published')
  return newest
}
