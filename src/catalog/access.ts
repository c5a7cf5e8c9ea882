import type { AccessRule, MembershipRule, OwnerRule, Revoker } from './access-rule.ts'
import type { Catalog } from './catalog.ts'
import { parseTopicPattern, type TopicPattern } from './topic-pattern.ts'

export interface ResolvedTopic {
  readonly pattern: TopicPattern
  readonly rule: AccessRule
  /** The placeholder's raw value ('' for a literal topic), shape not yet checked. */
  readonly id: string
}

export interface RevokingRule {
  readonly pattern: TopicPattern
  readonly revoker: Revoker
}

/** A follow set's pattern with the member pattern and the membership rule it follows. */
export interface FollowSpec {
  readonly pattern: TopicPattern
  readonly member: TopicPattern
  readonly rule: MembershipRule | OwnerRule
}

/** An event that changes follow sets: it adds (`grantedBy`) or removes (`revokedBy`) a member. */
export interface FollowChangeRule {
  readonly follow: FollowSpec
  readonly kind: 'add' | 'remove'
  readonly names: Revoker
}

/** A catalog's access rules, compiled once: topic → rule, event type → what it revokes. */
export interface CatalogAccess {
  resolve(topic: string): ResolvedTopic | undefined
  /** The rules an event of `type` revokes access under. */
  revoking(type: string): readonly RevokingRule[]
  /** The follow set a topic names, if it names one. */
  follow(topic: string): (FollowSpec & { readonly userId: string }) | undefined
  /** The follow sets an event of `type` changes. */
  followChanges(type: string): readonly FollowChangeRule[]
}

const NONE: readonly never[] = Object.freeze([])

/** Expects a validated catalog (src/catalog/validate.ts): every pattern parses. */
export function compileAccess(catalog: Pick<Catalog, 'access'>): CatalogAccess {
  const literals = new Map<string, ResolvedTopic>()
  const families: { pattern: TopicPattern; rule: AccessRule }[] = []
  const revokers = new Map<string, RevokingRule[]>()
  const follows = new Map<string, FollowSpec>()
  const changes = new Map<string, FollowChangeRule[]>()
  const add = <T>(map: Map<string, T[]>, key: string, value: T): void => { map.set(key, [...(map.get(key) ?? []), value]) }
  for (const [source, rule] of Object.entries(catalog.access)) {
    const pattern = parseTopicPattern(source) as TopicPattern
    if (pattern.param === undefined) literals.set(source, { pattern, rule, id: '' })
    else families.push({ pattern, rule })
    const revoker = 'revokedBy' in rule ? rule.revokedBy : undefined
    if (revoker !== undefined) add(revokers, revoker.event, { pattern, revoker })
  }
  for (const { pattern, rule } of families) {
    if (rule.kind !== 'follow') continue
    const of = catalog.access[rule.of] as MembershipRule | OwnerRule
    const spec: FollowSpec = { pattern, member: parseTopicPattern(rule.of) as TopicPattern, rule: of }
    follows.set(pattern.source, spec)
    if (of.grantedBy !== undefined) add(changes, of.grantedBy.event, { follow: spec, kind: 'add', names: of.grantedBy })
    if (of.revokedBy !== undefined) add(changes, of.revokedBy.event, { follow: spec, kind: 'remove', names: of.revokedBy })
  }
  // The most specific pattern wins: `user:1:escrows` is `user:{id}:escrows`, not `user:{id}`
  // with the id `1:escrows`, whatever order the catalog lists them in.
  families.sort((a, b) => (b.pattern.prefix.length + b.pattern.suffix.length) - (a.pattern.prefix.length + a.pattern.suffix.length))
  function resolve(topic: string): ResolvedTopic | undefined {
    const literal = literals.get(topic)
    if (literal !== undefined) return literal
    for (const { pattern, rule } of families) {
      if (topic.startsWith(pattern.prefix) && topic.endsWith(pattern.suffix) && topic.length >= pattern.prefix.length + pattern.suffix.length) {
        return { pattern, rule, id: topic.slice(pattern.prefix.length, topic.length - pattern.suffix.length) }
      }
    }
    return undefined
  }
  return {
    resolve,
    // Asked for every event: most types revoke or change nothing, and share one empty list.
    revoking: (type) => revokers.get(type) ?? NONE,
    follow(topic) {
      const resolved = resolve(topic)
      if (resolved === undefined || resolved.rule.kind !== 'follow') return undefined
      return { ...follows.get(resolved.pattern.source)!, userId: resolved.id }
    },
    followChanges: (type) => changes.get(type) ?? NONE,
  }
}
