import type { Db } from '../db/database.ts'
import type { CatalogDemo } from '../catalog/catalog.ts'
import type { Logger } from '../log.ts'
import { getSlot } from '../replication/slot.ts'

/**
 * Seeds the demo once the ingest's replication slot exists. A change committed before
 * the slot is never streamed: a seed made earlier would be in the tables but not in the
 * history, so a fresh subscriber to a demo book (a state served from the history, I17)
 * would miss every level the writer had not touched yet. Bounded: a slot that does not
 * appear in `timeoutMs` is said in the log and the demo seeded all the same.
 */
export async function seedAfterSlot(db: Db, slot: string, demo: Pick<CatalogDemo, 'seed'>, log: Logger, timeoutMs = 60_000, pollMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while ((await getSlot(db, slot)) === undefined) {
    if (Date.now() >= deadline) {
      log.warn({ slot, timeoutMs }, 'the replication slot did not appear in time: seeding the demo without it (the seed\'s changes will not be in the history)')
      break
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs))
  }
  await demo.seed(db, log)
}
