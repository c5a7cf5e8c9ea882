/**
 * The trading phase's writer, in a process of its own: the clients' frames must not
 * starve the burst it is measured under (bench/scenarios/trading.ts).
 */
import pg from 'pg'
import { burst, trade, type TradingSizes } from './trading.ts'

const sizes = JSON.parse(process.env.BENCH_TRADING_SIZES ?? '{}') as TradingSizes
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 4 })

process.on('message', (message) => {
  if (message === 'stop') {
    void pool.end().finally(() => process.exit(0))
    return
  }
  if (message !== 'go') return
  const started = performance.now()
  const timedBurst = burst(pool, sizes).then((changes) => ({ changes, ms: performance.now() - started }))
  Promise.all([timedBurst, trade(pool, sizes)]).then(
    ([{ changes, ms }]) => process.send?.({ done: true, changes, ms }),
    (err: unknown) => process.send?.({ done: true, error: err instanceof Error ? err.message : String(err) }),
  )
})
process.send?.({ ready: true })
