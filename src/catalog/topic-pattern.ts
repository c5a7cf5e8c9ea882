/**
 * A topic pattern names a family of topics: `escrow:{id}` (one placeholder) or a literal
 * such as `admin:disputes`. The placeholder's value has a shape; a string outside it names
 * no topic, so no event is ever published under it and no one may subscribe to it (I10).
 */
export type IdShape = 'int8' | 'uuid' | 'text'

export interface ShapeRule {
  test(text: string): boolean
  /** A value of the shape that names no row: a refused id still runs the same query. */
  readonly impossible: string
  /** The SQL type a parameter of this shape is compared as. */
  readonly cast: string
  /** Column types (format_type) it may be compared with. */
  readonly columnTypes: readonly string[]
}

const CANONICAL_INT8 = /^[1-9][0-9]{0,18}$/
const INT8_MAX = 9223372036854775807n

export const ID_SHAPES: Readonly<Record<IdShape, ShapeRule>> = {
  // A positive int8 in the one spelling Postgres prints: `01`, `-1`, `1 OR 1=1` are no id.
  int8: {
    test: (text) => CANONICAL_INT8.test(text) && BigInt(text) <= INT8_MAX,
    impossible: '-1',
    cast: 'bigint',
    columnTypes: ['bigint', 'integer', 'smallint'],
  },
  // Lower case, as Postgres prints a uuid.
  uuid: {
    test: (text) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(text),
    impossible: '00000000-0000-0000-0000-000000000000',
    cast: 'uuid',
    columnTypes: ['uuid'],
  },
  text: {
    test: (text) => /^[A-Za-z0-9_.-]{1,200}$/.test(text),
    impossible: '',
    cast: 'text',
    columnTypes: ['text', 'character varying', 'character', 'name'],
  },
}

export const isIdShape = (value: unknown): value is IdShape => typeof value === 'string' && value in ID_SHAPES

export interface TopicPattern {
  readonly source: string
  readonly prefix: string
  readonly suffix: string
  /** The placeholder's name, or undefined for a literal topic. */
  readonly param: string | undefined
}

const PLACEHOLDER = /\{([a-zA-Z][a-zA-Z0-9]*)\}/g
const TOPIC_TEXT = /^[A-Za-z0-9_.:/-]+$/

/** The pattern, or a sentence saying what is wrong with it. */
export function parseTopicPattern(source: string): TopicPattern | string {
  const params = [...source.matchAll(PLACEHOLDER)]
  if (params.length > 1) return `topic pattern ${JSON.stringify(source)} has more than one {placeholder}`
  if (params.length === 0) {
    return TOPIC_TEXT.test(source) ? { source, prefix: source, suffix: '', param: undefined } : `topic pattern ${JSON.stringify(source)} is not a topic name (letters, digits and _ . : / -)`
  }
  const match = params[0]!
  const prefix = source.slice(0, match.index)
  const suffix = source.slice(match.index! + match[0].length)
  if (prefix === '' || !TOPIC_TEXT.test(prefix) || (suffix !== '' && !TOPIC_TEXT.test(suffix))) {
    return `topic pattern ${JSON.stringify(source)} needs a literal prefix such as "team:" before its {placeholder}`
  }
  return { source, prefix, suffix, param: match[1] }
}

export function formatTopic(pattern: TopicPattern, id: string): string {
  return pattern.param === undefined ? pattern.source : `${pattern.prefix}${id}${pattern.suffix}`
}
