import pg from 'pg'
import { sleep } from './wait.ts'

export interface InsertBurst {
  /** Inserts the server acknowledged so far. */
  commits(): number
  stop(): Promise<void>
}

/**
 * One connection inserting one notification (for user 1, which must exist) per autocommit
 * transaction, at most `perSecond` a second, reconnecting whenever the server is gone.
 * Which inserts committed is the table's to say: one in flight when the server died may
 * or may not have, so compare the history with `committedNotificationIds`, not commits().
 */
export function startInsertBurst(url: string, perSecond = 1000): InsertBurst {
  let commits = 0
  let stopping = false
  const started = performance.now()
  const done = (async () => {
    while (!stopping) {
      const client = new pg.Client({ connectionString: url })
      client.on('error', () => {})
      try {
        await client.connect()
        while (!stopping) {
          // A steady rate: a test's walcast (on shared cores) must be able to keep up.
          const ahead = commits - ((performance.now() - started) / 1000) * perSecond
          if (ahead > 0) await sleep(Math.ceil((ahead / perSecond) * 1000))
          await client.query(`INSERT INTO notifications (user_id, kind, title) VALUES (1, 'burst', 'n')`)
          commits++
        }
      } catch {
        await sleep(50)
      } finally {
        await client.end().catch(() => {})
      }
    }
  })()
  return {
    commits: () => commits,
    async stop() {
      stopping = true
      await done
    },
  }
}

/** The notifications the server holds, in id (= commit, for one writer) order. */
export async function committedNotificationIds(pool: pg.Pool): Promise<number[]> {
  return (await pool.query<{ id: string }>('SELECT id FROM notifications ORDER BY id')).rows.map((r) => Number(r.id))
}

/** The notification ids of the history's events, in event id order. */
export async function historyNotificationIds(pool: pg.Pool): Promise<number[]> {
  const rows = await pool.query<{ id: string }>(`SELECT payload->>'notificationId' AS id FROM walcast.events WHERE type = 'notification:new' ORDER BY commit_lsn, seq`)
  return rows.rows.map((r) => Number(r.id))
}
