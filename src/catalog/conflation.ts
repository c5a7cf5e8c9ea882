import { compileAccess } from './access.ts'
import type { Catalog } from './catalog.ts'

/**
 * Conflated topics (invariant I17): a topic that stands for a state (an order book's
 * price levels, a last price) rather than a log. Its events stay durable like any other;
 * only live delivery keeps, per key, the latest event and sends at most one per key every
 * `everyMs`, and a resume answers with the latest event of each key instead of every one.
 */
export interface Conflation {
  /**
   * Milliseconds between two deliveries of a key (the trailing one always comes). One
   * interval for every conflated topic: a stream of several of them flushes them together,
   * so its one cursor never passes an event still held. WALCAST_CONFLATE_MS overrides it.
   */
  readonly everyMs: number
  /** Topic pattern → the `data` field(s) naming the key, `:`-separated (`side:price`). */
  readonly topics: Readonly<Record<string, ConflatedTopic>>
}

export interface ConflatedTopic {
  readonly key: string
}

const FIELD = /^[A-Za-z_][A-Za-z0-9_]*$/
export const MAX_CONFLATE_MS = 60_000

/** The data fields a key spec names, in order. */
export const keyFields = (spec: ConflatedTopic): readonly string[] => spec.key.split(':')

/** The key of an event's data under `fields`: its values joined, JSON-quoted so `a:b` and `a` + `b` differ. */
export function conflationKey(fields: readonly string[], data: Readonly<Record<string, unknown>>): string {
  if (fields.length === 1) return JSON.stringify(data[fields[0]!] ?? null)
  let key = ''
  for (const field of fields) key += `${JSON.stringify(data[field] ?? null)}\u0000`
  return key
}

/**
 * The same key as the history stores it (walcast.latest_per_key, a jsonb): the JSON array
 * of the values, a missing one as null. Its SQL twin, for events already stored, is
 * latestKey in src/history/latest-per-key.ts; test/history/latest-per-key.test.ts holds
 * them to the same rows.
 */
export function conflationKeyJson(fields: readonly string[], data: Readonly<Record<string, unknown>>): string {
  let key = '['
  for (let i = 0; i < fields.length; i++) key += `${i === 0 ? '' : ','}${JSON.stringify(data[fields[i]!] ?? null)}`
  return `${key}]`
}

/** A catalog's conflated topic patterns, and which topic is one of them: one rule for the live conflater, the history's state table and its backfill. */
export interface ConflatedTopics {
  /** Each conflated pattern's source (`orderbook:{asset}`), its key spec and the spec's fields. */
  readonly patterns: readonly { readonly source: string; readonly key: string; readonly fields: readonly string[] }[]
  /** The pattern a topic belongs to when it is conflated, else undefined. */
  patternOf(topic: string): string | undefined
  /** The key fields of a conflated topic; undefined for every other topic. */
  keyFields(topic: string): readonly string[] | undefined
}

/** The catalog's conflated topics; undefined when it declares none. */
export function conflatedTopics(catalog: Catalog): ConflatedTopics | undefined {
  const conflate = catalog.conflate
  if (conflate === undefined || Object.keys(conflate.topics).length === 0) return undefined
  const access = compileAccess(catalog)
  const patterns = Object.entries(conflate.topics).map(([source, spec]) => ({ source, key: spec.key, fields: keyFields(spec) }))
  const bySource = new Map(patterns.map((p) => [p.source, p]))
  // The access rules' resolution (the most specific pattern wins), never a second matcher.
  const patternOf = (topic: string): string | undefined => {
    const source = access.resolve(topic)?.pattern.source
    return source !== undefined && bySource.has(source) ? source : undefined
  }
  return {
    patterns,
    patternOf,
    keyFields: (topic) => {
      const source = patternOf(topic)
      return source === undefined ? undefined : bySource.get(source)!.fields
    },
  }
}

export function checkConflation(catalog: Catalog, refuse: (mistake: string, hint?: string) => never): void {
  const conflate = catalog.conflate!
  const hint = 'see docs/catalogs.md#conflation'
  if (conflate === null || typeof conflate !== 'object' || conflate.topics === null || typeof conflate.topics !== 'object') {
    refuse('conflate is not { everyMs, topics: { "pattern:{id}": { key } } }', hint)
  }
  if (!Number.isInteger(conflate.everyMs) || conflate.everyMs < 1 || conflate.everyMs > MAX_CONFLATE_MS) {
    refuse(`conflate.everyMs ${JSON.stringify(conflate.everyMs)} is not a whole number of milliseconds from 1 to ${MAX_CONFLATE_MS}`, hint)
  }
  const followed = new Set(Object.values(catalog.access).flatMap((rule) => (rule.kind === 'follow' ? [rule.of] : [])))
  for (const [pattern, spec] of Object.entries(conflate.topics)) {
    const rule = catalog.access[pattern]
    if (rule === undefined) refuse(`conflated topic ${pattern} has no access rule`, hint)
    // A follow set or a revocation is an ordered log of membership: it cannot be thinned.
    if (rule!.kind === 'follow' || followed.has(pattern)) refuse(`conflated topic ${pattern} is a follow set or a follow set's member`, 'conflate only topics read on their own; ' + hint)
    if ('revokedBy' in rule! && rule.revokedBy !== undefined) refuse(`conflated topic ${pattern} has a revoking event, which must never be conflated away`, hint)
    if (typeof spec?.key !== 'string' || !keyFields(spec).every((field) => FIELD.test(field))) {
      refuse(`conflated topic ${pattern}: key ${JSON.stringify(spec?.key)} is not data field names joined by ":" (e.g. "side:price")`, hint)
    }
  }
}
