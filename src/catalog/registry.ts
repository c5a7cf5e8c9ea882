import type { Catalog, CatalogTable } from './catalog.ts'
import type { DraftEvent, Row, RowChange } from './row-change.ts'

/** Routes a row change to its table's mapper; the ingest knows nothing of any catalog. */
export interface CatalogRegistry {
  /** Every tracked table, qualified, sorted: what the publication must contain. */
  readonly tables: readonly string[]
  /** Tracked tables that need REPLICA IDENTITY FULL (checked by walcast doctor). */
  readonly fullIdentityTables: readonly string[]
  map(change: RowChange): DraftEvent[]
}

export function createCatalogRegistry(catalog: Catalog): CatalogRegistry {
  const byTable = new Map<string, CatalogTable>()
  for (const table of catalog.tables) byTable.set(table.table, table)
  return {
    tables: [...byTable.keys()].sort(),
    fullIdentityTables: catalog.tables.filter((t) => t.fullIdentity === true).map((t) => t.table).sort(),
    map(change) {
      const table = byTable.get(change.table)
      if (table === undefined) return []
      // The allowlist is applied here, once, for every catalog: a mapper cannot put a
      // column it was not given into a payload.
      return table.map({ kind: change.kind, table: change.table, old: allowed(change.old, table.columns), new: allowed(change.new, table.columns) })
    },
  }
}

function allowed(row: Row | null, columns: readonly string[]): Row | null {
  if (row === null) return null
  const out: Row = {}
  for (let i = 0; i < columns.length; i++) {
    const column = columns[i]!
    const value = row[column]
    // An unchanged TOASTed value is present as undefined; an absent column stays absent.
    if (value !== undefined || column in row) out[column] = value
  }
  return out
}
