import type { CatalogDemo } from '../catalog/catalog.ts'
import type { Db } from '../db/database.ts'
import type { Logger } from '../log.ts'

export interface DemoWriter {
  /** Performs the next step of the script (exposed so tests need no timers). */
  step(): Promise<string>
  stop(): Promise<void>
}

/**
 * Runs the catalog's demo script, a step per tick, so events flow (npm start on the
 * embedded default, or `walcast demo` against DATABASE_URL).
 */
export function startDemoWriter(db: Db, log: Logger, intervalMs: number, demo: Pick<CatalogDemo, 'script'>): DemoWriter {
  const step = demo.script()
  let running: Promise<unknown> = Promise.resolve()
  let stopped = false

  const timer = intervalMs > 0 ? setInterval(() => {
    running = running.then(() => step(db)).then((what) => log.debug({ step: what }, 'demo writer'), (err: unknown) => log.warn({ err }, 'demo writer step failed'))
  }, intervalMs) : undefined

  return {
    step: () => (stopped ? Promise.resolve('stopped') : step(db)),
    async stop() {
      stopped = true
      clearInterval(timer)
      await running
    },
  }
}
