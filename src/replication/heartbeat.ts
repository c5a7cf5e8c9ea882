import { sql } from 'kysely'
import type { Db } from '../db/database.ts'
import type { Logger } from '../log.ts'

export const HEARTBEAT_PREFIX = 'walcast.heartbeat'

/**
 * Since PG 15 a transaction that touches no published table sends nothing, so while the
 * tracked tables are idle the slot would never advance and the server would keep WAL for
 * other tables' traffic. A transactional logical message reaches walcast as its own tiny
 * transaction, and its commit is acknowledged once everything before it is durable.
 */
export async function emitHeartbeat(db: Db): Promise<void> {
  await sql`SELECT pg_logical_emit_message(true, ${HEARTBEAT_PREFIX}, now()::text)`.execute(db)
}

export interface Heartbeat {
  stop(): void
}

export function startHeartbeat(db: Db, intervalMs: number, log: Logger): Heartbeat {
  const timer = setInterval(() => {
    emitHeartbeat(db).catch((err: unknown) => log.warn({ err }, 'heartbeat failed; the slot may not advance while tables are idle'))
  }, intervalMs)
  timer.unref()
  return { stop: () => clearInterval(timer) }
}
