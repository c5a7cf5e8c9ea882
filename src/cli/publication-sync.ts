import { loadCatalog } from '../catalog/loader.ts'
import { createCatalogRegistry } from '../catalog/registry.ts'
import { syncPublication } from '../replication/publication.ts'
import type { CommandContext } from './command.ts'
import { print, printJson } from './output.ts'

/** Makes the publication carry exactly the tracked tables (needs the publication's owner). */
export async function runPublicationSync(ctx: CommandContext): Promise<number> {
  const name = ctx.config.replication.publication
  const tracked = createCatalogRegistry(await loadCatalog(ctx.config.catalog)).tables
  const before = await syncPublication(ctx.database.db, name, tracked)
  const change = before.exists
    ? { created: false, added: before.missing, removed: before.extra }
    : { created: true, added: [...tracked], removed: [] }
  if (ctx.args.json) {
    printJson({ publication: name, ...change })
    return 0
  }
  if (change.created) print(`created publication ${name} for ${tracked.join(', ')}`)
  else if (change.added.length === 0 && change.removed.length === 0) print(`publication ${name} already carries exactly the tracked tables`)
  else {
    if (change.added.length > 0) print(`added ${change.added.join(', ')} to publication ${name}`)
    if (change.removed.length > 0) print(`removed ${change.removed.join(', ')} from publication ${name}`)
  }
  return 0
}
