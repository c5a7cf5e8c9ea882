import { sql, type RawBuilder } from 'kysely'

// A stored event's texts as frames spell them, for rows written since sql/007 (which
// keep them) and rows written before it (which get them computed) alike. history_pages
// (sql/007) has the same fallbacks in SQL.

/** The event's `data` as JSON text: as walcast serialized it, or an old row's jsonb printed. */
export function payloadText(alias: string): RawBuilder<string> {
  return sql<string>`coalesce(${sql.ref(`${alias}.payload`)}::text, ${sql.ref(`${alias}.payload_jsonb`)}::text)`
}

/** The event's `data` as jsonb, for key extraction and comparison (latest_per_key). */
export function payloadJsonb(alias: string): RawBuilder<unknown> {
  return sql`coalesce(${sql.ref(`${alias}.payload`)}::jsonb, ${sql.ref(`${alias}.payload_jsonb`)})`
}

/** The event's commit time as its frames spell it (ISO-8601, milliseconds, Z). */
export function tsText(alias: string): RawBuilder<string> {
  return sql<string>`coalesce(${sql.ref(`${alias}.ts`)}, to_char(${sql.ref(`${alias}.committed_at`)} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))`
}
