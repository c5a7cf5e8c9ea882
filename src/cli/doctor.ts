import { loadCatalog } from '../catalog/loader.ts'
import { createCatalogRegistry } from '../catalog/registry.ts'
import { runDoctor, type DoctorReport } from '../doctor/doctor.ts'
import type { CheckStatus } from '../doctor/check.ts'
import { redactUrl } from '../log.ts'
import type { CommandContext } from './command.ts'
import { print, printJson } from './output.ts'

const MARK: Record<CheckStatus, string> = { pass: '[ok]  ', warn: '[warn]', fail: '[FAIL]' }

/** Exit codes: 0 every check passed, 1 a check failed, 3 warnings only. */
export function doctorExitCode(report: DoctorReport): number {
  if (report.counts.fail > 0) return 1
  return report.counts.warn > 0 ? 3 : 0
}

export async function runDoctorCommand(ctx: CommandContext): Promise<number> {
  const registry = createCatalogRegistry(await loadCatalog(ctx.config.catalog))
  const { config } = ctx
  const report = await runDoctor({
    db: ctx.database.db,
    slot: config.replication.slot,
    publication: config.replication.publication,
    tracked: registry.tables,
    fullIdentity: registry.fullIdentityTables,
    retentionMs: config.history.retentionMs,
    pruneIntervalMs: config.history.pruneIntervalMs,
    walWarnBytes: config.observability.walWarnBytes,
  })
  if (ctx.args.json) {
    printJson(report)
    return doctorExitCode(report)
  }
  const target = config.database.url === undefined ? 'the embedded Postgres' : redactUrl(config.database.url)
  print(`walcast doctor: ${target}, slot ${config.replication.slot}, publication ${config.replication.publication}`)
  for (const section of report.sections) {
    print()
    print(section.name)
    for (const check of section.checks) {
      print(`  ${MARK[check.status]} ${check.message}`)
      if (check.fix !== undefined) print(`         fix: ${check.fix}`)
    }
  }
  print()
  const { pass, warn, fail } = report.counts
  print(`${pass} passed, ${warn} warning${warn === 1 ? '' : 's'}, ${fail} failed`)
  return doctorExitCode(report)
}
