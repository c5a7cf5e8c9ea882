/**
 * The driver's side of a measured child process (walcast, the peer): it reports ready
 * with its port, stops gracefully on a 'stop' message or SIGTERM, and collects garbage
 * on a 'gc' message (see ChildHandle.collectGarbage).
 */
export function serveDriver(port: number, close: () => Promise<void>): void {
  const stop = async (): Promise<void> => {
    await close().catch(() => {})
    process.exit(0)
  }
  process.on('message', (message) => {
    if (message === 'stop') void stop()
    if (message === 'gc') void collectGarbage()
  })
  process.once('SIGTERM', () => void stop())
  process.send?.({ ready: true, port })
}

/**
 * Started with --expose-gc by the driver: memory phases compare RSS without garbage.
 * Several collections a moment apart, as V8 gives memory back over more than one.
 */
async function collectGarbage(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc
  for (let i = 0; i < 3; i++) {
    gc?.()
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  process.send?.({ gc: true, memory: process.memoryUsage() })
}
