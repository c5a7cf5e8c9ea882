import { sql } from 'kysely'
import type { Db } from '../db/database.ts'
import type { Hub, HubSignal } from '../hub/hub.ts'
import { compileAccess } from '../catalog/access.ts'
import type { AccessRule, MembershipRule, OwnerRule } from '../catalog/access-rule.ts'
import type { Catalog } from '../catalog/catalog.ts'
import { quoteIdent, quoteQualified } from '../replication/preflight.ts'
import { formatTopic, ID_SHAPES, type IdShape } from '../catalog/topic-pattern.ts'
import type { Principal } from './principal.ts'
import type { AccessGate } from './access-checks.ts'
import type { ReadGateStats } from '../subscription/read-gate.ts'

/** A membership ended: transports end `userId`'s subscriptions to `topic`. */
export interface Revocation {
  readonly userId: string
  readonly topic: string
  /** The revoking event (`escrow:party_left`): events after it must not reach the user. */
  readonly eventId: string
}

export type RevocationListener = (revocation: Revocation) => void

export interface Authorizer {
  /** Whether `principal` may read `topic` now (replays are judged by current membership). */
  canRead(principal: Principal, topic: string): Promise<boolean>
  /** Called synchronously while the hub publishes the revoking event. */
  onRevoke(listener: RevocationListener): () => void
  /** Whether `revocation` ends `principal`'s access: an admin who reads by role keeps it. */
  revokes(principal: Principal, revocation: Revocation): boolean
  stats(): AuthorizerStats
  close(): void
}

export interface AuthorizerStats {
  readonly membershipQueries: number
  readonly cacheHits: number
  readonly revocations: number
  /** The membership lookups' turns (src/auth/access-checks.ts): running, queued, refused for waiting too long. */
  readonly checks: ReadGateStats
}

export interface AuthorizerOptions {
  /** Positive memberships kept in memory. */
  readonly cacheSize?: number
  /** Bounds and queues the membership lookups (src/auth/access-checks.ts); unbounded without. */
  readonly checks?: AccessGate
}

type LookupRule = MembershipRule | OwnerRule

/**
 * Topic rules come from the catalog's access rules (src/catalog/access-rule.ts); a topic
 * no rule covers is refused, and ids only in their canonical shape, for admins too (I10).
 * Only positive answers of rules with a revoking event are cached; a "no" always asks the
 * database, so a nonexistent and a foreign id take the same path and time, and a member
 * invited a moment ago is let in at once. The cache is kept fresh from the event stream:
 * the revoking event drops the entry and revokes live access (I7). When the stream cannot
 * vouch for the events it skipped (a gap, such as a TRUNCATE of a membership table, which
 * names no rows; a resync after another instance streamed; a pause), the whole cache goes
 * and is not refilled until the hub is live again.
 * Must be created before the transports subscribe to the hub, so revocations are
 * known when they deliver the same batch.
 */
export function createAuthorizer(db: Db, hub: Hub, catalog: Pick<Catalog, 'access' | 'userId'>, options: AuthorizerOptions = {}): Authorizer {
  const cacheSize = options.cacheSize ?? 100_000
  const checks = options.checks
  const access = compileAccess(catalog)
  const userShape = ID_SHAPES[catalog.userId ?? 'int8']
  const members = new Set<string>()
  const listeners = new Set<RevocationListener>()
  // Bumped by every revocation and cache flush: a lookup that raced one is asked again.
  let generation = 0
  let membershipQueries = 0
  let cacheHits = 0
  let revocations = 0

  const unsubscribe = hub.subscribe((events) => {
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!
      const rules = access.revoking(event.type)
      if (rules.length === 0) continue
      for (const { pattern, revoker } of rules) {
        const id = String(event.data[revoker.key])
        const userId = String(event.data[revoker.user])
        const topic = formatTopic(pattern, id)
        members.delete(key(topic, userId))
        generation++
        revocations++
        const revocation = { userId, topic, eventId: event.id }
        for (const listener of listeners) listener(revocation)
      }
    }
  })

  // Every signal but `live` means events may have passed this hub by, revoking ones among
  // them: no cached "yes" can be trusted any more.
  const unsubscribeSignal = hub.onSignal((signal: HubSignal) => {
    if (signal.kind === 'live') return
    members.clear()
    generation++
  })

  async function isMember(rule: LookupRule, topic: string, id: string, userId: string): Promise<boolean> {
    const cacheable = rule.revokedBy !== undefined
    const k = key(topic, userId)
    if (cacheable && members.has(k)) {
      cacheHits++
      return true
    }
    const shape = ID_SHAPES[rule.id ?? 'int8']
    const users = rule.kind === 'membership' ? [rule.user] : rule.owners
    // Identifiers come from the validated catalog; values are parameters, cast to the
    // shape's type so the key column's index serves the lookup.
    const query = sql<{ member: boolean }>`
      SELECT EXISTS (
        SELECT 1 FROM ${sql.raw(quoteQualified(rule.table))}
        WHERE ${sql.raw(quoteIdent(rule.key))} = ${validId(id, rule.id ?? 'int8')}::${sql.raw(shape.cast)}
          AND (${sql.join(users.map((u) => sql`${sql.raw(quoteIdent(u))} = ${validUser(userId)}::${sql.raw(userShape.cast)}`), sql` OR `)})
      ) AS member`
    for (;;) {
      const seen = generation
      membershipQueries++
      const row = await (checks === undefined ? query.execute(db) : checks.run(() => query.execute(db)))
      if (generation !== seen) continue
      const member = row.rows[0]?.member === true
      // While no ingest streams into the hub, no revoking event could evict the entry.
      if (member && cacheable && hub.isLive()) remember(k)
      return member
    }
  }

  function remember(k: string): void {
    if (members.size >= cacheSize) members.delete(members.values().next().value!)
    members.add(k)
  }

  function validUser(text: string): string {
    return userShape.test(text) ? text : userShape.impossible
  }

  async function canRead(principal: Principal, topic: string): Promise<boolean> {
    const resolved = access.resolve(topic)
    if (resolved === undefined) return false
    const { rule, id } = resolved
    switch (rule.kind) {
      case 'role':
        return hasRole(principal, rule.role)
      case 'signedIn':
        return resolved.pattern.param === undefined || ID_SHAPES[rule.id ?? 'int8'].test(id)
      case 'self':
      // A follow set is its user's alone, like `user:{id}`: no admin reads another's.
      case 'follow':
        return userShape.test(principal.userId) && id === principal.userId
      default:
        // Admins skip the lookup: that reveals nothing, they may read every such topic.
        if (rule.admin === true && principal.admin) return ID_SHAPES[rule.id ?? 'int8'].test(id)
        return isMember(rule, topic, id, principal.userId)
    }
  }

  return {
    canRead,
    onRevoke(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    revokes: (principal, revocation) => !(principal.admin && readsByRole(access.resolve(revocation.topic)?.rule)),
    stats: () => ({ membershipQueries, cacheHits, revocations, checks: checks?.stats() ?? { running: 0, waiting: 0, shed: 0 } }),
    close() {
      unsubscribe()
      unsubscribeSignal()
      listeners.clear()
    },
  }
}

const key = (topic: string, userId: string): string => `${topic}\u0000${userId}`

function validId(text: string, shape: IdShape): string {
  return ID_SHAPES[shape].test(text) ? text : ID_SHAPES[shape].impossible
}

function hasRole(principal: Principal, role: string): boolean {
  return (role === 'admin' && principal.admin) || (principal.roles?.includes(role) ?? false)
}

function readsByRole(rule: AccessRule | undefined): boolean {
  return rule !== undefined && (rule.kind === 'membership' || rule.kind === 'owner') && rule.admin === true
}
