import { Writable } from 'node:stream'
import { createLogger, type Logger } from '../../src/log.ts'

export function silentLogger(): Logger {
  return createLogger({ level: 'silent' })
}

/** A logger whose JSON lines are kept, so tests can assert what was (not) logged. */
export function capturingLogger(level: 'info' | 'debug' | 'trace' = 'debug'): { log: Logger; lines: () => string[] } {
  const lines: string[] = []
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(...String(chunk).split('\n').filter((l) => l !== ''))
      done()
    },
  })
  return { log: createLogger({ level }, sink), lines: () => lines }
}
