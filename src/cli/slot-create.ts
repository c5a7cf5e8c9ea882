import { formatLsn } from '../event-id.ts'
import { createHistoryStore } from '../history/store.ts'
import { checkServerSettings } from '../replication/preflight.ts'
import { createSlotRecordingGap } from '../replication/slot-admin.ts'
import type { CommandContext } from './command.ts'
import { print, printJson } from './output.ts'

/**
 * Creates walcast's slot ahead of the first start (or after a drop). With events already
 * in the history the changes between them and the new slot were never read: a gap is
 * recorded unless --assume-no-writes says every writer was stopped meanwhile.
 */
export async function runSlotCreate(ctx: CommandContext): Promise<number> {
  const name = ctx.config.replication.slot
  await checkServerSettings(ctx.database.db)
  const { slot, gap } = await createSlotRecordingGap(ctx.database.db, createHistoryStore(ctx.database.db), name, ctx.args.assumeNoWrites)
  const lsn = formatLsn(slot.confirmedFlushLsn ?? 0n)
  if (ctx.args.json) {
    printJson({ slot: name, created: true, confirmedFlushLsn: lsn, gap: gap === undefined ? null : { afterLsn: formatLsn(gap.afterLsn), untilLsn: formatLsn(gap.untilLsn) } })
    return 0
  }
  print(`created replication slot ${name} at ${lsn}`)
  if (gap !== undefined) {
    print(`recorded a gap from ${formatLsn(gap.afterLsn)} to ${formatLsn(gap.untilLsn)}: clients resuming from before it get reset`)
  }
  return 0
}
