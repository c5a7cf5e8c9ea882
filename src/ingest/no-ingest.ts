import type { Ingest } from './ingest.ts'

/** A gateway node's ingest: never takes the slot; `done` resolves when it is stopped. */
export function noIngest(): Ingest {
  let stop!: () => void
  const done = new Promise<void>((resolve) => { stop = resolve })
  return {
    done,
    status: () => ({ state: 'off', reason: 'WALCAST_ROLE=gateway: this node never ingests', durableLsn: 0n }),
    async stop() {
      stop()
    },
  }
}
