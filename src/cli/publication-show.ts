import { loadCatalog } from '../catalog/loader.ts'
import { createCatalogRegistry } from '../catalog/registry.ts'
import { inspectPublication } from '../replication/publication.ts'
import type { CommandContext } from './command.ts'
import { print, printJson } from './output.ts'

export async function runPublicationShow(ctx: CommandContext): Promise<number> {
  const name = ctx.config.replication.publication
  const tracked = createCatalogRegistry(await loadCatalog(ctx.config.catalog)).tables
  const state = await inspectPublication(ctx.database.db, name, tracked)
  const inSync = state.exists && state.missing.length === 0 && state.extra.length === 0
  if (ctx.args.json) {
    printJson({ publication: name, tracked, ...state, inSync })
    return 0
  }
  if (!state.exists) {
    print(`publication ${name} does not exist (walcast creates it at start-up; or walcast publication sync)`)
    return 0
  }
  print(`publication ${name}`)
  for (const table of state.tables) print(`  ${table}${tracked.includes(table) ? '' : '  (not tracked: walcast ignores it)'}`)
  for (const table of state.missing) print(`  ${table}  (MISSING: tracked but not published; walcast publication sync adds it)`)
  print(inSync
    ? 'in sync: it publishes exactly the tracked tables'
    : `NOT in sync: ${state.missing.length} missing, ${state.extra.length} not tracked; walcast publication sync fixes it`)
  return 0
}
