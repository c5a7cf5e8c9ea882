import { sql } from 'kysely'
import type { Db } from '../db/database.ts'
import type { Hub, HubSignal } from '../hub/hub.ts'
import { ADMIN_DISPUTES_TOPIC, ESCROW_TOPIC_PREFIX, USER_TOPIC_PREFIX, escrowTopic, isCanonicalId } from '../domain/escrow/topics.ts'
import type { Principal } from './principal.ts'

/** A party left an escrow: transports end `userId`'s subscriptions to `topic`. */
export interface Revocation {
  readonly userId: string
  readonly topic: string
  /** The `escrow:party_left` event: events after it must not reach the user. */
  readonly eventId: string
}

export type RevocationListener = (revocation: Revocation) => void

export interface Authorizer {
  /** Whether `principal` may read `topic` now (replays are judged by current membership). */
  canRead(principal: Principal, topic: string): Promise<boolean>
  /** Called synchronously while the hub publishes the `party_left` event. */
  onRevoke(listener: RevocationListener): () => void
  /** Whether `revocation` ends `principal`'s access: an admin reads every escrow without being a party. */
  revokes(principal: Principal, revocation: Revocation): boolean
  stats(): AuthorizerStats
  close(): void
}

export interface AuthorizerStats {
  readonly membershipQueries: number
  readonly cacheHits: number
  readonly revocations: number
}

export interface AuthorizerOptions {
  /** Positive memberships kept in memory. */
  readonly cacheSize?: number
}

/** Never an escrow or user id: the lookup for an impossible id still runs the same query. */
const IMPOSSIBLE_ID = '-1'

/**
 * Topic rules: `escrow:<id>` for its parties and admins, `user:<id>` for that user,
 * `admin:disputes` for admins, nothing else; ids only in their canonical int8 spelling,
 * for admins too (I10). Only positive memberships are cached; a "no" always asks the
 * database, so a nonexistent and a foreign escrow take the same path and time, and a
 * party invited a moment ago is let in at once. The cache is kept fresh from the event
 * stream: `party_left` drops the entry and revokes live access (I7). When the stream
 * cannot vouch for the events it skipped (a gap, such as a TRUNCATE of escrow_parties,
 * which names no rows; a resync after another instance streamed; a pause), the whole
 * cache goes and is not refilled until the hub is live again.
 * Must be created before the transports subscribe to the hub, so revocations are
 * known when they deliver the same batch.
 */
export function createAuthorizer(db: Db, hub: Hub, options: AuthorizerOptions = {}): Authorizer {
  const cacheSize = options.cacheSize ?? 100_000
  const members = new Set<string>()
  const listeners = new Set<RevocationListener>()
  // Bumped by every party_left and cache flush: a lookup that raced one is asked again.
  let generation = 0
  let membershipQueries = 0
  let cacheHits = 0
  let revocations = 0

  const unsubscribe = hub.subscribe((events) => {
    for (const event of events) {
      if (event.type !== 'escrow:party_left') continue
      const escrowId = String(event.data.escrowId)
      const userId = String(event.data.userId)
      members.delete(key(escrowId, userId))
      generation++
      revocations++
      const revocation = { userId, topic: escrowTopic(escrowId), eventId: event.id }
      for (const listener of listeners) listener(revocation)
    }
  })

  // Every signal but `live` means events may have passed this hub by, party_left among
  // them: no cached "yes" can be trusted any more.
  const unsubscribeSignal = hub.onSignal((signal: HubSignal) => {
    if (signal.kind === 'live') return
    members.clear()
    generation++
  })

  async function isParty(escrowId: string, userId: string): Promise<boolean> {
    const k = key(escrowId, userId)
    if (members.has(k)) {
      cacheHits++
      return true
    }
    for (;;) {
      const seen = generation
      membershipQueries++
      const row = await sql<{ member: boolean }>`
        SELECT EXISTS (
          SELECT 1 FROM public.escrow_parties
          WHERE escrow_id = ${validId(escrowId)}::bigint AND user_id = ${validId(userId)}::bigint
        ) AS member`.execute(db)
      if (generation !== seen) continue
      const member = row.rows[0]?.member === true
      // While no ingest streams into the hub, no party_left could evict the entry.
      if (member && hub.isLive()) remember(k)
      return member
    }
  }

  function remember(k: string): void {
    if (members.size >= cacheSize) members.delete(members.values().next().value!)
    members.add(k)
  }

  return {
    async canRead(principal, topic) {
      if (topic.startsWith(ESCROW_TOPIC_PREFIX)) {
        const escrowId = topic.slice(ESCROW_TOPIC_PREFIX.length)
        // Admins skip the lookup: that reveals nothing, they may read every escrow.
        if (principal.admin) return isCanonicalId(escrowId)
        return isParty(escrowId, principal.userId)
      }
      if (topic.startsWith(USER_TOPIC_PREFIX)) {
        return isCanonicalId(principal.userId) && topic === `${USER_TOPIC_PREFIX}${principal.userId}`
      }
      if (topic === ADMIN_DISPUTES_TOPIC) return principal.admin
      return false
    },
    onRevoke(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    revokes: (principal, revocation) => !(principal.admin && revocation.topic.startsWith(ESCROW_TOPIC_PREFIX)),
    stats: () => ({ membershipQueries, cacheHits, revocations }),
    close() {
      unsubscribe()
      unsubscribeSignal()
      listeners.clear()
    },
  }
}

const key = (escrowId: string, userId: string): string => `${escrowId}/${userId}`

function validId(text: string): string {
  return isCanonicalId(text) ? text : IMPOSSIBLE_ID
}
