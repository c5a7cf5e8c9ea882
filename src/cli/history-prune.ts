import { formatDuration } from '../format.ts'
import { loadCatalog } from '../catalog/loader.ts'
import { conflatedTopics } from '../catalog/conflation.ts'
import { pruneHistory } from '../history/prune.ts'
import { syncLatestPerKey } from '../history/latest-per-key.ts'
import type { CommandContext } from './command.ts'
import { print, printJson } from './output.ts'

/** One prune run now, with the configured retention (a running walcast prunes on its own timer). */
export async function runHistoryPrune(ctx: CommandContext): Promise<number> {
  // Pruning keeps what latest_per_key names: it must hold the catalog's conflated topics first.
  await syncLatestPerKey(ctx.database.db, conflatedTopics(await loadCatalog(ctx.config.catalog)))
  const result = await pruneHistory(ctx.database.db, ctx.config.history, new Date(), 1000)
  const retention = formatDuration(ctx.config.history.retentionMs)
  if (ctx.args.json) printJson({ deleted: result.deleted, retentionMs: ctx.config.history.retentionMs })
  else print(`deleted ${result.deleted} event${result.deleted === 1 ? '' : 's'} older than ${retention}`)
  return 0
}
