import { formatDuration } from '../format.ts'
import { loadCatalog } from '../catalog/loader.ts'
import { keptStates, pruneHistory } from '../history/prune.ts'
import type { CommandContext } from './command.ts'
import { print, printJson } from './output.ts'

/** One prune run now, with the configured retention (a running walcast prunes on its own timer). */
export async function runHistoryPrune(ctx: CommandContext): Promise<number> {
  const result = await pruneHistory(ctx.database.db, ctx.config.history, new Date(), 1000, keptStates(await loadCatalog(ctx.config.catalog)))
  const retention = formatDuration(ctx.config.history.retentionMs)
  if (ctx.args.json) printJson({ deleted: result.deleted, retentionMs: ctx.config.history.retentionMs })
  else print(`deleted ${result.deleted} event${result.deleted === 1 ? '' : 's'} older than ${retention}`)
  return 0
}
