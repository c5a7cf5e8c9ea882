/**
 * The driver's side of a measured child process (walcast, the peer): it reports ready
 * with its port, stops gracefully on a 'stop' message or SIGTERM, and collects garbage
 * on a 'gc' message (see ChildHandle.collectGarbage). Plain JavaScript (types in
 * child-ipc.d.mts): walcast's child runs the build on node without a TypeScript loader.
 */
/** @param {number} port @param {() => Promise<void>} close */
export function serveDriver(port, close) {
  const stop = async () => {
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
async function collectGarbage() {
  const gc = globalThis.gc
  for (let i = 0; i < 3; i++) {
    gc?.()
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  process.send?.({ gc: true, memory: process.memoryUsage() })
}
