import type { Catalog, EphemeralSpec } from '../catalog/catalog.ts'
import { compileAccess } from '../catalog/access.ts'
import { MAX_EPHEMERAL_TYPE_LENGTH } from '../protocol/client-frames.ts'

export const DEFAULT_MAX_BYTES = 1024
export const DEFAULT_PER_SECOND = 5
/** A catalog may raise the cap this far; a frame is capped by WALCAST_WS_MAX_PAYLOAD anyway. */
export const MAX_MAX_BYTES = 65_536
const TYPE_NAME = /^[A-Za-z0-9_.:/-]+$/

/** One pattern's ephemeral rules with the defaults filled in. */
export interface EphemeralRules {
  readonly pattern: string
  readonly events: ReadonlySet<string>
  readonly maxBytes: number
  readonly perSecond: number
  /** Bucket size: a short burst (a few keystrokes) passes, a flood does not. */
  readonly burst: number
  readonly presence: boolean
}

/** Topic → its pattern's ephemeral rules; undefined when the topic takes no ephemeral messages. */
export type EphemeralCatalog = (topic: string) => EphemeralRules | undefined

/**
 * Checks a catalog's `ephemeral` section (called by checkCatalogShape, I14): each pattern
 * has an access rule (and is no follow set: it is not one topic), each message type is
 * well formed and no durable event's, the limits are positive. Calls `refuse` on the first mistake.
 */
export function checkEphemeralSpecs(catalog: Catalog, refuse: (mistake: string, hint?: string) => never): void {
  const specs = catalog.ephemeral
  if (specs === undefined) return
  if (specs === null || typeof specs !== 'object' || Array.isArray(specs)) refuse('ephemeral is not an object of topic pattern → { events }')
  for (const [pattern, spec] of Object.entries(specs)) {
    const where = `ephemeral ${pattern}`
    const rule = catalog.access[pattern]
    if (rule === undefined) refuse(`${where} has no access rule`, `add an access rule for ${JSON.stringify(pattern)}: only a client that may read a topic (and is subscribed to it) may send to it`)
    if (rule!.kind === 'follow') refuse(`${where} is a follow set`, 'mark the member topics\' pattern ephemeral instead')
    if (spec === null || typeof spec !== 'object' || !Array.isArray(spec.events) || spec.events.length === 0) refuse(`${where} declares no events`, 'list the message types: events: ["chat:typing", …]')
    for (const type of spec.events) {
      if (typeof type !== 'string' || type.length > MAX_EPHEMERAL_TYPE_LENGTH || !TYPE_NAME.test(type)) refuse(`${where}: event ${JSON.stringify(type)} is not a type name (letters, digits and _ . : / -, at most ${MAX_EPHEMERAL_TYPE_LENGTH})`)
      if (Object.hasOwn(catalog.events, type)) refuse(`${where}: event ${type} is also a durable event`, 'an ephemeral message type must not look like a stored event: rename one of them')
    }
    if (spec.maxBytes !== undefined && (!Number.isInteger(spec.maxBytes) || spec.maxBytes < 1 || spec.maxBytes > MAX_MAX_BYTES)) refuse(`${where}: maxBytes must be a whole number between 1 and ${MAX_MAX_BYTES}`)
    if (spec.perSecond !== undefined && (typeof spec.perSecond !== 'number' || !(spec.perSecond > 0) || !Number.isFinite(spec.perSecond))) refuse(`${where}: perSecond must be a number greater than zero`)
    if (spec.presence !== undefined && typeof spec.presence !== 'boolean') refuse(`${where}: presence must be true or false`)
  }
}

/** Expects a validated catalog: each topic resolves through the same access patterns subscriptions use. */
export function compileEphemeral(catalog: Pick<Catalog, 'access' | 'ephemeral'>): EphemeralCatalog {
  const specs = catalog.ephemeral ?? {}
  if (Object.keys(specs).length === 0) return () => undefined
  const access = compileAccess(catalog)
  const rules = new Map<string, EphemeralRules>()
  for (const [pattern, spec] of Object.entries(specs)) rules.set(pattern, withDefaults(pattern, spec))
  return (topic) => {
    const resolved = access.resolve(topic)
    return resolved === undefined ? undefined : rules.get(resolved.pattern.source)
  }
}

function withDefaults(pattern: string, spec: EphemeralSpec): EphemeralRules {
  const perSecond = spec.perSecond ?? DEFAULT_PER_SECOND
  return {
    pattern,
    events: new Set(spec.events),
    maxBytes: spec.maxBytes ?? DEFAULT_MAX_BYTES,
    perSecond,
    burst: Math.max(1, Math.ceil(perSecond * 2)),
    presence: spec.presence === true,
  }
}
