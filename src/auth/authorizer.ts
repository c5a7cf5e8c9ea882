import { sql } from 'kysely'
import type { Db } from '../db/database.ts'
import type { Hub } from '../hub/hub.ts'
import { ADMIN_DISPUTES_TOPIC } from '../domain/escrow/topics.ts'
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

const ESCROW_PREFIX = 'escrow:'
const USER_PREFIX = 'user:'
const BIGINT = /^[1-9][0-9]{0,18}$/
const INT8_MAX = 9223372036854775807n
/** Never an escrow or user id: the lookup for an impossible id still runs the same query. */
const IMPOSSIBLE_ID = '-1'

/**
 * Topic rules: `escrow:<id>` for its parties and admins, `user:<id>` for that user,
 * `admin:disputes` for admins, nothing else. Only positive memberships are cached; a
 * "no" always asks the database, so a nonexistent and a foreign escrow take the same
 * path and time, and a party invited a moment ago is let in at once. The cache is kept
 * fresh from the event stream: `party_left` drops the entry and revokes live access.
 * Must be created before the transports subscribe to the hub, so revocations are
 * known when they deliver the same batch.
 */
export function createAuthorizer(db: Db, hub: Hub, options: AuthorizerOptions = {}): Authorizer {
  const cacheSize = options.cacheSize ?? 100_000
  const members = new Set<string>()
  const listeners = new Set<RevocationListener>()
  // Bumped by every party_left: a lookup that raced one is asked again.
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
      const revocation = { userId, topic: `${ESCROW_PREFIX}${escrowId}`, eventId: event.id }
      for (const listener of listeners) listener(revocation)
    }
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
      if (member) remember(k)
      return member
    }
  }

  function remember(k: string): void {
    if (members.size >= cacheSize) members.delete(members.values().next().value!)
    members.add(k)
  }

  return {
    async canRead(principal, topic) {
      if (topic.startsWith(ESCROW_PREFIX)) {
        // Admins skip the lookup: that reveals nothing, they may read every escrow.
        if (principal.admin) return true
        return isParty(topic.slice(ESCROW_PREFIX.length), principal.userId)
      }
      if (topic.startsWith(USER_PREFIX)) return topic === `${USER_PREFIX}${principal.userId}`
      if (topic === ADMIN_DISPUTES_TOPIC) return principal.admin
      return false
    },
    onRevoke(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    stats: () => ({ membershipQueries, cacheHits, revocations }),
    close() {
      unsubscribe()
      listeners.clear()
    },
  }
}

const key = (escrowId: string, userId: string): string => `${escrowId}/${userId}`

function validId(text: string): string {
  return BIGINT.test(text) && BigInt(text) <= INT8_MAX ? text : IMPOSSIBLE_ID
}
