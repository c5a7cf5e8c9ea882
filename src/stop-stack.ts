import type { Logger } from './log.ts'

export interface StopStack {
  /** Registers what undoes a stage, as soon as the stage has started. */
  push(stage: string, stop: () => void | Promise<void>): void
  /** Set once `run` began: a stage that would start later (a deferred start) must not. */
  readonly stopping: boolean
  /**
   * Runs every registered stop once, the last pushed first. A stop that fails is logged
   * and the others still run; the first failure rejects once all have run. Every call
   * returns the same promise.
   */
  run(): Promise<void>
}

/**
 * What a start undoes, and in what order: one list for a graceful stop and for a start
 * that failed half way, so the two cannot drift apart. A half-started node that kept its
 * replication slot streaming would block a standby from taking over, and one that kept a
 * socket or timer would keep a library caller's process from exiting.
 */
export function createStopStack(log: Logger): StopStack {
  const stops: { stage: string; stop: () => void | Promise<void> }[] = []
  let running: Promise<void> | undefined
  return {
    push(stage, stop) {
      stops.push({ stage, stop })
    },
    get stopping() {
      return running !== undefined
    },
    run() {
      running ??= (async () => {
        let failure: { err: unknown } | undefined
        for (const { stage, stop } of [...stops].reverse()) {
          try {
            await stop()
          } catch (err) {
            log.warn({ err, stage }, 'a stage failed to stop; stopping the others')
            failure ??= { err }
          }
        }
        if (failure !== undefined) throw failure.err
      })()
      return running
    },
  }
}
