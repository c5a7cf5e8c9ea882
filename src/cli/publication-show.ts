import { escrowDomain } from '../domain/escrow/index.ts'
import { createDomainRegistry } from '../domain/registry.ts'
import { inspectPublication } from '../replication/publication.ts'
import type { CommandContext } from './command.ts'
import { print, printJson } from './output.ts'

export async function runPublicationShow(ctx: CommandContext): Promise<number> {
  const name = ctx.config.replication.publication
  const tracked = createDomainRegistry([escrowDomain]).tables
  const state = await inspectPublication(ctx.database.db, name, tracked)
  if (ctx.args.json) {
    printJson({ publication: name, tracked, ...state })
    return 0
  }
  if (!state.exists) {
    print(`publication ${name} does not exist (walcast creates it at start-up; or walcast publication sync)`)
    return 0
  }
  print(`publication ${name}`)
  for (const table of state.tables) print(`  ${table}${tracked.includes(table) ? '' : '  (not tracked: walcast ignores it)'}`)
  for (const table of state.missing) print(`  ${table}  (MISSING: tracked but not published; walcast publication sync adds it)`)
  return 0
}
