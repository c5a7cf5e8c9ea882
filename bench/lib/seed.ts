import fs from 'node:fs/promises'
import pg from 'pg'

/**
 * The benchmark's population. Escrow 1 is the hot topic every user is a party of;
 * user u also belongs to one of the `escrows` spread escrows (ids 2..escrows+1).
 * Parties are inserted unaccepted, so seeding emits no party events.
 */
export interface Population {
  readonly users: number
  readonly escrows: number
}

export const HOT_ESCROW = 1

/** Escrows past the spread ones, reserved for single-purpose measurements. */
export function replayEscrow(population: Population): number {
  return population.escrows + 2
}
export function bulkEscrow(population: Population): number {
  return population.escrows + 3
}
/** Its only event marks the end of a backlog. */
export function sentinelEscrow(population: Population): number {
  return population.escrows + 4
}

export function spreadEscrowOf(user: number, population: Population): number {
  return 2 + ((user - 1) % population.escrows)
}

export function spreadEscrows(population: Population): number[] {
  return Array.from({ length: population.escrows }, (_, i) => i + 2)
}

const DOMAIN_SQL = new URL('../../src/catalogs/escrow/schema.sql', import.meta.url)

/** Creates the escrow tables (when walcast has not) and the population. */
export async function seedPopulation(url: string, population: Population): Promise<void> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    await client.query(await fs.readFile(DOMAIN_SQL, 'utf8'))
    await client.query(`INSERT INTO public.users (id, display_name) SELECT g, 'bench user ' || g FROM generate_series(1, $1::int) g ON CONFLICT DO NOTHING`, [population.users])
    await client.query(`INSERT INTO public.escrows (id, title, amount, currency, status) SELECT g, 'bench escrow ' || g, 1000, 'EUR', 'funded' FROM generate_series(1, $1::int) g ON CONFLICT DO NOTHING`, [population.escrows + 4])
    await client.query(`
      INSERT INTO public.escrow_parties (escrow_id, user_id, role)
      SELECT e, u, 'buyer' FROM generate_series(1, $1::int) u,
        LATERAL (VALUES (${HOT_ESCROW}), (2 + ((u - 1) % $2::int))) AS x(e)
      ON CONFLICT DO NOTHING`, [population.users, population.escrows])
    // User 1 watches the replay escrow.
    await client.query(`INSERT INTO public.escrow_parties (escrow_id, user_id, role) VALUES ($1, 1, 'buyer') ON CONFLICT DO NOTHING`, [replayEscrow(population)])
    await client.query(`SELECT setval(pg_get_serial_sequence('public.users', 'id'), (SELECT max(id) FROM public.users))`)
    await client.query(`SELECT setval(pg_get_serial_sequence('public.escrows', 'id'), (SELECT max(id) FROM public.escrows))`)
  } finally {
    await client.end()
  }
}
