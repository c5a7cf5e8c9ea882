import { formatBytes } from '../format.ts'
import { listSlots, type SlotStats } from '../replication/slot-stats.ts'
import type { CommandContext } from './command.ts'
import { print, printJson, table } from './output.ts'

/** Every slot on the server (a forgotten one of another database fills the same disk); walcast's is marked. */
export async function runSlotStatus(ctx: CommandContext): Promise<number> {
  const ours = ctx.config.replication.slot
  const slots = await listSlots(ctx.database.db)
  if (ctx.args.json) {
    printJson({ slot: ours, slots: slots.map((s) => ({ ...s, walcast: s.name === ours })) })
    return 0
  }
  if (slots.length === 0) print('no replication slots on this server')
  else {
    print(table(
      ['SLOT', 'DATABASE', 'ACTIVE PID', 'CONFIRMED FLUSH', 'RESTART LSN', 'RETAINED WAL', 'LAG', 'WAL STATUS'],
      slots.map((s) => row(s, s.name === ours)),
    ))
  }
  if (!slots.some((s) => s.name === ours)) print(`walcast's slot ${ours} does not exist (walcast creates it on first start; or walcast slot create)`)
  return 0
}

function row(s: SlotStats, ours: boolean): string[] {
  const bytes = (n: number | null) => (n === null ? '-' : formatBytes(n))
  return [
    `${s.name}${ours ? ' *' : ''}`,
    s.database ?? `(${s.slotType})`,
    s.active ? String(s.activePid ?? 'yes') : '-',
    s.confirmedFlushLsn ?? '-',
    s.restartLsn ?? '-',
    bytes(s.retainedBytes),
    bytes(s.lagBytes),
    s.walStatus ?? '-',
  ]
}
