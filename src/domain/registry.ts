import type { Domain, DraftEvent, RowChange, TableMapper } from './types.ts'

/** Routes a row change to its table's mapper; the ingest knows nothing of any domain. */
export interface DomainRegistry {
  /** Every tracked table, qualified, sorted: what the publication must contain. */
  readonly tables: readonly string[]
  /** Tracked tables that need REPLICA IDENTITY FULL (checked by walcast doctor). */
  readonly fullIdentityTables: readonly string[]
  map(change: RowChange): DraftEvent[]
}

export function createDomainRegistry(domains: readonly Domain[]): DomainRegistry {
  const byTable = new Map<string, TableMapper>()
  for (const domain of domains) {
    for (const mapper of domain.mappers) {
      if (byTable.has(mapper.table)) throw new Error(`table ${mapper.table} is mapped by two domains`)
      byTable.set(mapper.table, mapper)
    }
  }
  return {
    tables: [...byTable.keys()].sort(),
    fullIdentityTables: domains.flatMap((d) => d.fullIdentityTables ?? []).sort(),
    map(change) {
      const mapper = byTable.get(change.table)
      return mapper === undefined ? [] : mapper.map(change)
    },
  }
}
