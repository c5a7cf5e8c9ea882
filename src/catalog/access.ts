import type { AccessRule, Revoker } from './access-rule.ts'
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

/** A catalog's access rules, compiled once: topic → rule, event type → what it revokes. */
export interface CatalogAccess {
  resolve(topic: string): ResolvedTopic | undefined
  /** The rules an event of `type` revokes access under. */
  revoking(type: string): readonly RevokingRule[]
}

/** Expects a validated catalog (src/catalog/validate.ts): every pattern parses. */
export function compileAccess(catalog: Pick<Catalog, 'access'>): CatalogAccess {
  const literals = new Map<string, ResolvedTopic>()
  const families: { pattern: TopicPattern; rule: AccessRule }[] = []
  const revokers = new Map<string, RevokingRule[]>()
  for (const [source, rule] of Object.entries(catalog.access)) {
    const pattern = parseTopicPattern(source) as TopicPattern
    if (pattern.param === undefined) literals.set(source, { pattern, rule, id: '' })
    else families.push({ pattern, rule })
    const revoker = 'revokedBy' in rule ? rule.revokedBy : undefined
    if (revoker !== undefined) revokers.set(revoker.event, [...(revokers.get(revoker.event) ?? []), { pattern, revoker }])
  }
  return {
    resolve(topic) {
      const literal = literals.get(topic)
      if (literal !== undefined) return literal
      for (const { pattern, rule } of families) {
        if (topic.startsWith(pattern.prefix) && topic.endsWith(pattern.suffix) && topic.length >= pattern.prefix.length + pattern.suffix.length) {
          return { pattern, rule, id: topic.slice(pattern.prefix.length, topic.length - pattern.suffix.length) }
        }
      }
      return undefined
    },
    revoking: (type) => revokers.get(type) ?? [],
  }
}
