import { sql } from 'kysely'
import type { Db } from '../db/database.ts'
import { CatalogError } from '../errors.ts'
import type { AccessRule } from './access-rule.ts'
import type { Catalog } from './catalog.ts'
import { checkEphemeralSpecs } from '../ephemeral/spec.ts'
import { ID_SHAPES, isIdShape, parseTopicPattern, type TopicPattern } from './topic-pattern.ts'

const QUALIFIED = /^[a-z_][a-z0-9_$]*\.[a-z_][a-z0-9_$]*$/
const COLUMN = /^[a-z_][a-z0-9_$]*$/
const RULE_KINDS = ['membership', 'owner', 'self', 'role', 'follow']
const SEE = 'see docs/catalogs.md'

/**
 * Everything about a catalog that can be judged without a database: its shape, that
 * every table's events are declared, that every topic an event goes to has an access
 * rule, and that each rule is complete. Throws one CatalogError naming the first mistake.
 */
export function checkCatalogShape(value: unknown, origin: string): Catalog {
  const catalog = value as Catalog
  const name = typeof catalog?.name === 'string' && catalog.name !== '' ? catalog.name : undefined
  const refuse = (mistake: string, hint = SEE): never => { throw new CatalogError(name ?? origin, mistake, hint) }
  if (catalog === null || typeof catalog !== 'object') refuse('is not a catalog object', 'export default defineCatalog({ name, tables, events, access }); see docs/catalogs.md')
  if (name === undefined) refuse('has no name', 'give the catalog a name: defineCatalog({ name: "my-app", … })')
  if (!Array.isArray(catalog.tables) || catalog.tables.length === 0) refuse('tracks no tables', 'list at least one table in tables: [{ table, columns, events, map }]')
  if (catalog.events === null || typeof catalog.events !== 'object') refuse('declares no events', 'declare events: { "type": { topics: ["pattern:{id}"] } }')
  if (catalog.access === null || typeof catalog.access !== 'object') refuse('declares no access rules', 'declare access: { "pattern:{id}": { kind: … } }')
  if (catalog.userId !== undefined && !isIdShape(catalog.userId)) refuse(`userId ${JSON.stringify(catalog.userId)} is not one of ${Object.keys(ID_SHAPES).join(', ')}`)

  const seen = new Set<string>()
  for (const table of catalog.tables) {
    const label = typeof table?.table === 'string' ? table.table : JSON.stringify(table?.table)
    if (typeof table?.table !== 'string' || !QUALIFIED.test(table.table)) refuse(`table ${label} is not a qualified lower-case name such as public.orders`)
    if (seen.has(table.table)) refuse(`table ${table.table} is listed twice`)
    seen.add(table.table)
    if (typeof table.map !== 'function') refuse(`table ${table.table} has no map(change) function`)
    if (!Array.isArray(table.columns) || table.columns.length === 0) refuse(`table ${table.table} allows no columns`, `list the columns its events may read in columns: [...]`)
    for (const column of table.columns) {
      if (typeof column !== 'string' || !COLUMN.test(column)) refuse(`table ${table.table}: column ${JSON.stringify(column)} is not a lower-case column name`)
    }
    if (!Array.isArray(table.events)) refuse(`table ${table.table} lists no events`, 'list the event types its map may produce in events: [...]')
    for (const type of table.events) {
      if (!Object.hasOwn(catalog.events, type)) refuse(`table ${table.table} produces event ${JSON.stringify(type)}, which the catalog does not declare`, `add ${JSON.stringify(type)} to events`)
    }
  }

  const patterns = new Map<string, TopicPattern>()
  for (const [source, rule] of Object.entries(catalog.access)) {
    const pattern = parseTopicPattern(source)
    if (typeof pattern === 'string') refuse(pattern)
    const clash = [...patterns.values()].find((p) => p.param !== undefined && p.prefix === (pattern as TopicPattern).prefix && p.suffix === (pattern as TopicPattern).suffix)
    if (clash !== undefined && (pattern as TopicPattern).param !== undefined) refuse(`topic patterns ${clash.source} and ${source} name the same topics`)
    patterns.set(source, pattern as TopicPattern)
    checkRule(catalog, source, pattern as TopicPattern, rule, refuse)
  }
  for (const [type, spec] of Object.entries(catalog.events)) {
    if (!Array.isArray(spec?.topics) || spec.topics.length === 0) refuse(`event ${type} goes to no topic`, `give it topics: ["pattern:{id}"]`)
    for (const topic of spec.topics) {
      if (catalog.access[topic]?.kind === 'follow') refuse(`event ${type} is published to the follow set ${topic}`, `publish it to the member topics; a follow set carries their events`)
      if (!patterns.has(topic)) {
        refuse(`event ${type} is published to topic ${topic}, which has no access rule`, `add an access rule for ${JSON.stringify(topic)} (membership, owner, self or role); without one no client could ever read it`)
      }
    }
  }
  checkEphemeralSpecs(catalog, refuse)
  return catalog
}

function checkRule(catalog: Catalog, source: string, pattern: TopicPattern, rule: AccessRule, refuse: (mistake: string, hint?: string) => never): void {
  const where = `access rule ${source}`
  if (rule === null || typeof rule !== 'object' || !RULE_KINDS.includes(rule.kind)) refuse(`${where} has no kind: expected one of ${RULE_KINDS.join(', ')}`)
  if (rule.kind === 'role') {
    if (typeof rule.role !== 'string' || rule.role === '') refuse(`${where} names no role`)
    return
  }
  if (pattern.param === undefined) refuse(`${where} is a ${rule.kind} rule, which needs a {placeholder} in the topic`)
  if (rule.kind === 'self') return
  if (rule.kind === 'follow') return checkFollow(catalog, where, rule.of, refuse)
  if (typeof rule.table !== 'string' || !QUALIFIED.test(rule.table)) refuse(`${where}: table ${JSON.stringify(rule.table)} is not a qualified lower-case name`)
  if (rule.id !== undefined && !isIdShape(rule.id)) refuse(`${where}: id ${JSON.stringify(rule.id)} is not one of ${Object.keys(ID_SHAPES).join(', ')}`)
  const users = rule.kind === 'membership' ? [rule.user] : rule.owners
  if (!Array.isArray(users) || users.length === 0) refuse(`${where} names no ${rule.kind === 'membership' ? 'user column' : 'owner columns'}`)
  for (const column of [rule.key, ...users]) {
    if (typeof column !== 'string' || !COLUMN.test(column)) refuse(`${where}: column ${JSON.stringify(column)} is not a lower-case column name`)
  }
  for (const [field, revoker, why] of [['revokedBy', rule.revokedBy, 'the last event they see'], ['grantedBy', rule.grantedBy, 'the first event a follow set takes of it']] as const) {
    if (revoker === undefined) continue
    const verb = field === 'revokedBy' ? 'revoked' : 'granted'
    if (!Object.hasOwn(catalog.events, revoker.event)) refuse(`${where} is ${verb} by event ${JSON.stringify(revoker.event)}, which the catalog does not declare`)
    if (!catalog.events[revoker.event]!.topics.includes(source)) {
      refuse(`${where} is ${verb} by ${revoker.event}, which is not published to ${source}`, `publish ${revoker.event} to ${source}: its subscribers must receive it as ${why}`)
    }
    if (typeof revoker.key !== 'string' || typeof revoker.user !== 'string') refuse(`${where}: ${field} needs the data fields naming the topic's id (key) and the user (user)`)
  }
}

function checkFollow(catalog: Catalog, where: string, of: unknown, refuse: (mistake: string, hint?: string) => never): void {
  const target = typeof of === 'string' ? catalog.access[of] : undefined
  if (target === undefined) refuse(`${where} follows ${JSON.stringify(of)}, which has no access rule`, 'name the member topics\' pattern in of, e.g. of: "escrow:{id}"')
  if (target!.kind !== 'membership' && target!.kind !== 'owner') refuse(`${where} follows ${of as string}, a ${target!.kind} rule: only membership and owner rules name a user's topics`)
  const lookup = target as Extract<AccessRule, { kind: 'membership' | 'owner' }>
  if (lookup.grantedBy === undefined || lookup.revokedBy === undefined) {
    refuse(`${where} follows ${of as string}, whose rule lacks grantedBy or revokedBy`, 'a follow set changes live only at those events: declare both on the membership rule')
  }
}

interface ColumnRow { table: string; column: string | null; type: string | null; present: boolean }

/**
 * What only the database can say: every tracked table exists and has each allowed
 * column; each access rule's table has its key and user columns, of a type the topic's
 * id can be compared with. Throws one CatalogError naming the first mistake.
 */
export async function checkCatalogAgainstDatabase(db: Db, catalog: Catalog): Promise<void> {
  const refuse = (mistake: string, hint: string): never => { throw new CatalogError(catalog.name, mistake, hint) }
  const lookups = Object.entries(catalog.access).flatMap(([source, rule]) => rule.kind === 'membership' || rule.kind === 'owner' ? [{ source, rule }] : [])
  const tables = [...new Set([...catalog.tables.map((t) => t.table), ...lookups.map((l) => l.rule.table)])]
  const rows = await sql<ColumnRow>`
    SELECT t AS table, a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type, c.oid IS NOT NULL AS present
    FROM unnest(${tables}::text[]) AS t
    LEFT JOIN pg_namespace n ON n.nspname = split_part(t, '.', 1)
    LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = split_part(t, '.', 2) AND c.relkind IN ('r', 'p')
    LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped`.execute(db)
  const columns = new Map<string, Map<string, string>>()
  for (const row of rows.rows) {
    if (!row.present) continue
    const table = columns.get(row.table) ?? new Map<string, string>()
    if (row.column !== null) table.set(row.column, row.type!)
    columns.set(row.table, table)
  }
  const missingTable = (table: string, role: string): never =>
    refuse(`${role} table ${table} does not exist in this database`, `create it (or give the catalog a schema file, which walcast migrate applies), or fix the name; DATABASE_URL may point at the wrong database`)
  for (const table of catalog.tables) {
    const present = columns.get(table.table) ?? missingTable(table.table, 'tracked')
    for (const column of table.columns) {
      if (!present.has(column)) refuse(`table ${table.table} has no column ${column} (in its payload allowlist)`, `fix the name or remove it from columns; ${table.table} has ${[...present.keys()].join(', ')}`)
    }
  }
  for (const { source, rule } of lookups) {
    const present = columns.get(rule.table) ?? missingTable(rule.table, `access rule ${source}:`)
    const shape = ID_SHAPES[rule.id ?? 'int8']
    const userShape = ID_SHAPES[catalog.userId ?? 'int8']
    const users = rule.kind === 'membership' ? [rule.user] : rule.owners
    for (const [column, expected, what] of [[rule.key, shape, 'the topic id'], ...users.map((u) => [u, userShape, 'the user id'] as const)] as const) {
      const type = present.get(column)
      if (type === undefined) refuse(`access rule ${source}: table ${rule.table} has no column ${column}`, `fix the name; ${rule.table} has ${[...present.keys()].join(', ')}`)
      if (!expected.columnTypes.some((t) => type!.startsWith(t))) {
        refuse(`access rule ${source}: column ${rule.table}.${column} is ${type}, which ${what} (${expected.cast}) cannot be compared with`, `set the rule's id shape (int8, uuid, text) or the catalog's userId to match the column`)
      }
    }
  }
}
