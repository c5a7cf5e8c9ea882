import { WalcastError } from '../errors.ts'
import { formatBytes } from '../format.ts'
import { dropSlot, slotActiveError, slotMissingError } from '../replication/slot-admin.ts'
import { slotStats } from '../replication/slot-stats.ts'
import type { CommandContext } from './command.ts'
import { print, printJson } from './output.ts'

/**
 * Drops walcast's slot, which frees the WAL it pins and forgets its position.
 * An active slot is never dropped, --force or not: stop the walcast streaming from it
 * first. An inactive slot is dropped only with --force, which confirms the loss.
 */
export async function runSlotDrop(ctx: CommandContext): Promise<number> {
  const name = ctx.config.replication.slot
  const slot = await slotStats(ctx.database.db, name)
  if (slot === undefined) throw slotMissingError(name)
  if (slot.active) throw slotActiveError(name, slot.activePid)
  if (!ctx.args.force) {
    throw new WalcastError('FORCE_REQUIRED', `dropping slot ${name} (inactive, at ${slot.confirmedFlushLsn ?? '-'}, retaining ${formatBytes(slot.retainedBytes ?? 0)}) loses every change walcast has not read yet`, {
      hint: `re-run with --force to drop it; walcast records the gap when a slot is created again, and clients resuming across it get reset`,
    })
  }
  await dropSlot(ctx.database.db, name)
  if (ctx.args.json) printJson({ slot: name, dropped: true, confirmedFlushLsn: slot.confirmedFlushLsn, freedBytes: slot.retainedBytes })
  else print(`dropped replication slot ${name} (was at ${slot.confirmedFlushLsn ?? '-'}; ${formatBytes(slot.retainedBytes ?? 0)} of WAL released)`)
  return 0
}
