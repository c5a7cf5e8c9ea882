import { sql } from 'kysely'
import { compileAccess, type CatalogAccess } from '../catalog/access.ts'
import type { Catalog } from '../catalog/catalog.ts'
import { formatTopic, ID_SHAPES } from '../catalog/topic-pattern.ts'
import type { Db } from '../db/database.ts'
import type { StoredEvent } from '../history/event.ts'
import { quoteIdent, quoteQualified } from '../replication/preflight.ts'
import type { AccessGate } from '../auth/access-checks.ts'

/** One member topic joining or leaving one user's follow set, at an event. */
export interface FollowChange {
  readonly follow: string
  /** The follow set's user. */
  readonly userId: string
  readonly member: string
  readonly kind: 'add' | 'remove'
}

/**
 * The catalog's follow sets (FollowRule, docs/catalogs.md#follow-sets): which topics name
 * one, what it holds now (one query of the membership table), and how an event changes it.
 * The catalog mapper knows nothing of them: the set is read at subscribe time and then
 * moved by the membership events as they pass in stream order, so the mapper stays a pure
 * function of the row change.
 */
export interface FollowSets {
  isFollow(topic: string): boolean
  /** The member topics of a follow set now, sorted; [] for a topic that is not one. */
  members(topic: string): Promise<string[]>
  /** How `event` changes follow sets (a grant adds its topic, a revocation removes it). */
  changes(event: StoredEvent): readonly FollowChange[]
}

/** `checks`: the access checks' turns (src/auth/access-checks.ts): a follow set's members are read as its access is checked. */
export function createFollowSets(db: Db, catalog: Pick<Catalog, 'access' | 'userId'>, checks?: AccessGate): FollowSets {
  const access: CatalogAccess = compileAccess(catalog)
  const userShape = ID_SHAPES[catalog.userId ?? 'int8']
  return {
    isFollow: (topic) => access.follow(topic) !== undefined,
    async members(topic) {
      const follow = access.follow(topic)
      // A follow set of an id no user can have holds nothing: no query with it.
      if (follow === undefined || !userShape.test(follow.userId)) return []
      const { rule } = follow
      const users = rule.kind === 'membership' ? [rule.user] : rule.owners
      // Identifiers come from the validated catalog; the user id is a parameter.
      const query = sql<{ id: string }>`
        SELECT DISTINCT ${sql.raw(quoteIdent(rule.key))}::text AS id FROM ${sql.raw(quoteQualified(rule.table))}
        WHERE ${sql.join(users.map((u) => sql`${sql.raw(quoteIdent(u))} = ${follow.userId}::${sql.raw(userShape.cast)}`), sql` OR `)}`
      const found = await (checks === undefined ? query.execute(db) : checks.run(() => query.execute(db)))
      const shape = ID_SHAPES[rule.id ?? 'int8']
      return found.rows.filter((row) => shape.test(row.id)).map((row) => formatTopic(follow.member, row.id)).sort()
    },
    changes(event) {
      const rules = access.followChanges(event.type)
      if (rules.length === 0) return NONE
      const out: FollowChange[] = []
      for (const { follow, kind, names } of rules) {
        const id = event.data[names.key]
        const user = event.data[names.user]
        if (id === undefined || id === null || user === undefined || user === null) continue
        const member = formatTopic(follow.member, String(id))
        // Only a topic the event is published to: the set never takes in what it did not see.
        if (!event.topics.includes(member)) continue
        out.push({ follow: formatTopic(follow.pattern, String(user)), userId: String(user), member, kind })
      }
      return out
    },
  }
}

const NONE: readonly FollowChange[] = []
