import type { IdShape } from './topic-pattern.ts'

/**
 * Who may read the topics of one pattern, asked of the database at subscribe time (and
 * for every replay: access is judged by the present, not by the past).
 */
export type AccessRule = MembershipRule | OwnerRule | SelfRule | RoleRule | FollowRule | SignedInRule

interface LookupRule {
  /** Qualified table whose rows grant access. */
  readonly table: string
  /** Column compared with the topic's {placeholder}. */
  readonly key: string
  /** Shape of the placeholder (default int8). */
  readonly id?: IdShape
  /** Readers whose token has `role: "admin"` read every topic of the pattern without a row, and keep it. */
  readonly admin?: boolean
  /**
   * The event that ends a reader's access: its `data[key]` names the topic's id and
   * `data[user]` the reader. Live subscriptions stop at it (I7). Without it the answer is
   * never cached, since nothing would tell walcast that a "yes" went stale.
   */
  readonly revokedBy?: Revoker
  /**
   * The event that starts a reader's access (`data[key]` the topic's id, `data[user]` the
   * reader): a follow set (FollowRule) of that reader takes the topic in from it on.
   */
  readonly grantedBy?: Revoker
}

/** An event that names a (topic id, reader) pair of a membership: `grantedBy` or `revokedBy`. */
export interface Revoker {
  readonly event: string
  readonly key: string
  readonly user: string
}

/** A row (key, user) in a membership table, e.g. escrow_parties (escrow_id, user_id). */
export interface MembershipRule extends LookupRule {
  readonly kind: 'membership'
  readonly user: string
}

/** A row of the entity itself whose owner column(s) hold the reader, e.g. streams (sender_id, recipient_id). */
export interface OwnerRule extends LookupRule {
  readonly kind: 'owner'
  readonly owners: readonly string[]
}

/** The reader's own topic: the placeholder is the token's `sub` (`user:{id}`). */
export interface SelfRule {
  readonly kind: 'self'
}

/** Readers whose token carries this role (`role` claim, or one of `roles`). */
export interface RoleRule {
  readonly kind: 'role'
  readonly role: string
}

/**
 * A follow set: the topic `user:{id}:escrows` stands for every topic of the pattern `of`
 * that its user (the placeholder, the token's `sub` alone may read it) is admitted to by
 * `of`'s membership or owner rule. One subscription instead of one per topic: the set is
 * asked of the database at subscribe time and then changes in stream order, at `of`'s
 * `grantedBy` event (the topic joins, that event included) and `revokedBy` event (the
 * topic leaves after it). docs/catalogs.md#follow-sets.
 */
export interface FollowRule {
  readonly kind: 'follow'
  /** The member topics' pattern, e.g. `escrow:{id}`: its rule needs `grantedBy` and `revokedBy`. */
  readonly of: string
}

/**
 * Every signed-in reader (a verified token) may read the topics, public market data for
 * instance (`orderbook:{asset}`); a placeholder outside `id`'s shape names no topic (I10).
 */
export interface SignedInRule {
  readonly kind: 'signedIn'
  /** Shape of the placeholder (default int8). */
  readonly id?: IdShape
}
