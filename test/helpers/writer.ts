import pg from 'pg'
import type { TestDatabase } from './db.ts'

export interface Writer {
  /** Commits so far. */
  commits(): number
  /** Resolves with the number of commits once the writer has stopped. */
  readonly done: Promise<number>
  stop(): Promise<number>
}

/**
 * Commits status flips on the given escrows (which must exist), round robin, one
 * autocommit UPDATE at a time as fast as the server takes them, until `maxCommits`,
 * `maxMs` or stop(). Every commit is exactly one `escrow:status_changed` event.
 */
export function startWriter(tdb: TestDatabase, escrowIds: readonly number[], options: { maxCommits: number; maxMs: number }): Writer {
  let commits = 0
  let stopping = false
  const client = new pg.Client({ connectionString: tdb.url })
  const deadline = Date.now() + options.maxMs
  const done = (async () => {
    await client.connect()
    try {
      while (!stopping && commits < options.maxCommits && Date.now() < deadline) {
        const id = escrowIds[commits % escrowIds.length]
        await client.query(`UPDATE escrows SET status = CASE WHEN status = 'funded' THEN 'in_progress' ELSE 'funded' END WHERE id = $1`, [id])
        commits++
      }
    } finally {
      await client.end()
    }
    return commits
  })()
  return {
    commits: () => commits,
    done,
    async stop() {
      stopping = true
      return done
    },
  }
}
