/** The driver's side of a measured child process: child-ipc.mjs. */
export function serveDriver(port: number, close: () => Promise<void>): void
