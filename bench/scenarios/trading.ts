/**
 * The trading phase (issue #11): the trading catalog under a book burst. `subscribers`
 * WebSocket clients hold `orderbook:BTC-USD` (conflated, everyMs) while a writer rewrites
 * its levels at `changesPerSecond` for `seconds`, and `traders` users place and fill
 * orders meanwhile, each watching `user:<id>`. Measured: book frames per client per
 * second and the most any one level was delivered per second, against the conflation
 * rate; whether every client's last value of every level equals the database after the
 * burst; whether every order:update/balance:update reached its owner, in order, once.
 * The peers have no comparable feature (see `peers` below), so only walcast runs.
 */
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import WebSocket from 'ws'
import type { BenchPostgres } from '../lib/postgres.ts'
import { cpuSeconds, forkTs, startWalcastProcess, type ChildHandle } from '../lib/processes.ts'
import { BENCH_JWT_SECRET, signToken } from '../lib/token.ts'
import type { Profile } from '../profile.ts'
import { round, sleep, waitUntil } from './context.ts'

export interface TradingSizes {
  readonly subscribers: number
  readonly traders: number
  readonly changesPerSecond: number
  readonly seconds: number
  /** Price levels a side of the one hot book. */
  readonly levels: number
  readonly everyMs: number
}

export const TRADING_SIZES: Record<Profile['name'], TradingSizes> = {
  smoke: { subscribers: 50, traders: 3, changesPerSecond: 2_000, seconds: 2, levels: 10, everyMs: 250 },
  quick: { subscribers: 1_000, traders: 10, changesPerSecond: 6_000, seconds: 5, levels: 10, everyMs: 250 },
  full: { subscribers: 1_000, traders: 10, changesPerSecond: 6_000, seconds: 10, levels: 10, everyMs: 250 },
}

export interface TradingResult {
  readonly sizes: TradingSizes
  /** Book changes committed, and per second of burst. */
  readonly bookChanges: number
  readonly bookChangesPerSecond: number
  /** Book frames per client per second during the burst (mean over clients). */
  readonly framesPerClientPerSecond: number
  /** The ceiling: every level of the book once per interval, edge flushes included. */
  readonly conflationCeilingPerClientPerSecond: number
  /**
   * The most deliveries of one level to one client from the start of the burst to the
   * end of its last flush, and the bound: one per interval (+2 for the edges). Counted,
   * not timed: a client process that lags on a busy host reads late, never more.
   */
  readonly maxLevelDeliveries: number
  readonly levelBound: number
  /** maxLevelDeliveries per second of burst, and 1000 / everyMs. */
  readonly maxLevelDeliveriesPerSecond: number
  readonly conflationRatePerSecond: number
  /** Clients whose last value of every level equals the database after the burst. */
  readonly exactClients: number
  readonly clients: number
  /** order:update + balance:update committed for the traders, and how many arrived in order, each once. */
  readonly userEvents: number
  readonly userEventsInOrder: number
  readonly userEventsMissing: number
  readonly userEventsDuplicated: number
  /** Server CPU seconds per second of burst. */
  readonly serverCpuPerSecond: number
  readonly peers: Readonly<Record<string, string>>
}

const WRITER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'trading-writer.ts')
const ASSET = 'BTC-USD'
const BOOK = `orderbook:${ASSET}`

interface BookClient {
  ws: WebSocket
  frames: number
  /** level → last qty seen. */
  last: Map<string, string>
  /** level → deliveries since the burst started. */
  perLevel: Map<string, number>
}

export async function measureTrading(context: { profile: Profile; postgres: BenchPostgres; suffix: string; log(message: string): void }): Promise<TradingResult> {
  const sizes = TRADING_SIZES[context.profile.name]
  const databaseUrl = await context.postgres.createDatabase(`bench_trading_${context.suffix}`)
  const walcast = await startWalcastProcess({
    DATABASE_URL: databaseUrl, WALCAST_JWT_SECRET: BENCH_JWT_SECRET, WALCAST_SLOT: `bench_trading_${context.suffix}`,
    WALCAST_CATALOG: 'trading', WALCAST_CONFLATE_INTERVAL: `${sizes.everyMs}ms`, WALCAST_WS_MAX_CONNECTIONS_PER_USER: '100000',
    NODE_OPTIONS: '--max-old-space-size=4096',
  })
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 })
  const clients: BookClient[] = []
  const traders: Trader[] = []
  let writer: ChildHandle | undefined
  try {
    await seedMarket(pool, sizes)
    const url = `ws://127.0.0.1:${walcast.port}/v1/ws`
    context.log(`trading: ${sizes.subscribers} subscribers on ${BOOK}, ${sizes.traders} traders`)
    let burstStart = 0
    for (let i = 0; i < sizes.subscribers; i += 100) {
      await Promise.all(Array.from({ length: Math.min(100, sizes.subscribers - i) }, async (_, j) => {
        clients.push(await openBookClient(url, await signToken(BENCH_JWT_SECRET, String(1000 + i + j)), () => burstStart))
      }))
    }
    for (let u = 1; u <= sizes.traders; u++) traders.push(await openTrader(url, await signToken(BENCH_JWT_SECRET, String(u)), `user:${u}`))
    await waitUntil(() => (clients.every((c) => c.last.size >= 2 * sizes.levels) ? true : undefined), 30_000)
    for (const client of clients) { client.frames = 0; client.perLevel.clear() }

    writer = (await forkTs(WRITER, { DATABASE_URL: databaseUrl, BENCH_TRADING_SIZES: JSON.stringify(sizes) })).handle
    const done = new Promise<{ changes?: number; ms?: number; error?: string }>((resolve) => writer!.child.on('message', (m) => { if ((m as { done?: boolean }).done === true) resolve(m as { changes?: number }) }))
    const cpuBefore = cpuSeconds(walcast.pid)
    burstStart = performance.now()
    writer.child.send('go')
    const outcome = await done
    if (outcome.error !== undefined) throw new Error(`trading writer: ${outcome.error}`)
    const bookChanges = outcome.changes!
    const burstSeconds = (performance.now() - burstStart) / 1000
    const cpu = cpuSeconds(walcast.pid) - cpuBefore
    await sleep(sizes.everyMs * 4 + 1000)

    const book = await pool.query<{ level: string; qty: string }>(`SELECT side || ':' || price::text AS level, qty::text AS qty FROM trading.book_levels WHERE asset = $1`, [ASSET])
    const truth = new Map(book.rows.map((row) => [row.level, row.qty]))
    const exactClients = clients.filter((c) => [...truth].every(([level, qty]) => c.last.get(level) === qty)).length
    let maxLevel = 0
    for (const client of clients) for (const n of client.perLevel.values()) maxLevel = Math.max(maxLevel, n)

    const history = await pool.query<{ id: string; topic: string }>(`
      SELECT lpad(to_hex(((commit_lsn - '0/0'::pg_lsn))::bigint), 16, '0') || '-' || lpad(to_hex(seq), 8, '0') AS id, t.topic
      FROM walcast.event_topics t WHERE t.topic LIKE 'user:%' ORDER BY commit_lsn, seq`)
    let inOrder = 0
    let missing = 0
    let duplicated = 0
    let userEvents = 0
    traders.forEach((trader, index) => {
      const expected = history.rows.filter((row) => row.topic === `user:${index + 1}` && row.id > trader.head).map((row) => row.id)
      userEvents += expected.length
      const got = trader.ids
      duplicated += got.length - new Set(got).size
      missing += expected.filter((id) => !got.includes(id)).length
      if (got.join() === expected.join()) inOrder += got.length
    })
    const result: TradingResult = {
      sizes,
      bookChanges,
      // The writer's own clock: the burst alone, not the last order's fill after it.
      bookChangesPerSecond: round(bookChanges / (outcome.ms! / 1000), 0),
      framesPerClientPerSecond: round(clients.reduce((sum, c) => sum + c.frames, 0) / clients.length / burstSeconds, 1),
      // Every level once per interval over the burst, with the two edge flushes (before its first and after its last change).
      conflationCeilingPerClientPerSecond: round((2 * sizes.levels * (Math.ceil((burstSeconds * 1000) / sizes.everyMs) + 2)) / burstSeconds, 1),
      maxLevelDeliveries: maxLevel,
      levelBound: Math.ceil((burstSeconds * 1000) / sizes.everyMs) + 2,
      maxLevelDeliveriesPerSecond: round(maxLevel / burstSeconds, 1),
      conflationRatePerSecond: round(1000 / sizes.everyMs, 1),
      exactClients,
      clients: clients.length,
      userEvents,
      userEventsInOrder: inOrder,
      userEventsMissing: missing,
      userEventsDuplicated: duplicated,
      serverCpuPerSecond: round(cpu / burstSeconds, 2),
      peers: {
        socketio: 'no comparable feature: `volatile` emits drop messages a slow transport cannot take; nothing keeps the latest value per key',
        centrifugo: 'no comparable feature in v6 OSS: delta compression and publication filtering cut bytes, but every publication is still delivered',
      },
    }
    context.log(`trading: ${JSON.stringify(result)}`)
    return result
  } finally {
    for (const client of clients) client.ws.terminate()
    for (const trader of traders) trader.ws.terminate()
    await writer?.stop().catch(() => {})
    await pool.end().catch(() => {})
    await walcast.stop().catch(() => {})
  }
}

async function seedMarket(pool: pg.Pool, sizes: TradingSizes): Promise<void> {
  // walcast applied the catalog's schema at start-up; users, one hot book, balances.
  await pool.query(`INSERT INTO public.users (id, display_name) SELECT i, 'trader ' || i FROM generate_series(1, $1::int) i ON CONFLICT DO NOTHING`, [sizes.traders])
  await pool.query(`INSERT INTO trading.assets (symbol, name) VALUES ($1, 'Bitcoin') ON CONFLICT DO NOTHING`, [ASSET])
  await pool.query(`
    INSERT INTO trading.book_levels (asset, side, price, qty)
    SELECT $1, side, 64000 + sign * i * 0.5, 1 FROM generate_series(1, $2::int) i, (VALUES ('bid', -1), ('ask', 1)) s(side, sign)
    ON CONFLICT DO NOTHING`, [ASSET, sizes.levels])
  await pool.query(`INSERT INTO trading.balances (user_id, currency, available) SELECT i, 'USD', 1000000 FROM generate_series(1, $1::int) i ON CONFLICT DO NOTHING`, [sizes.traders])
}

/**
 * Every 50 ms one transaction rewrites the whole book a few times over (each UPDATE of a
 * level is one WAL row, one event): `changesPerSecond` level changes for `seconds`.
 */
export async function burst(pool: pg.Pool, sizes: TradingSizes): Promise<number> {
  const tickMs = 50
  const perRewrite = 2 * sizes.levels
  const update = `UPDATE trading.book_levels SET qty = round((0.1 + random() * 20)::numeric, 4) WHERE asset = '${ASSET}'; `
  const start = performance.now()
  let changes = 0
  while (performance.now() - start < sizes.seconds * 1000) {
    // What the rate owes by now, in whole rewrites of the book: a slow round trip on a busy
    // host is made up in the next transaction instead of lowering the rate.
    const owed = Math.round(((performance.now() - start + tickMs) * sizes.changesPerSecond) / 1000) - changes
    const rewrites = Math.min(200, Math.max(1, Math.round(owed / perRewrite)))
    // The simple query protocol runs several statements in one round trip and one transaction.
    const results = await pool.query(`BEGIN; ${update.repeat(rewrites)}COMMIT;`) as unknown as pg.QueryResult[]
    for (const result of results) if (result.command === 'UPDATE') changes += result.rowCount ?? 0
    await sleep(tickMs)
  }
  return changes
}

/** Each trader places an order and fills it in two parts, one trader after another, until the burst ends. */
export async function trade(pool: pg.Pool, sizes: TradingSizes): Promise<void> {
  const start = performance.now()
  let n = 0
  while (performance.now() - start < sizes.seconds * 1000) {
    const user = 1 + (n++ % sizes.traders)
    const placed = await pool.query<{ id: string }>(`INSERT INTO trading.orders (user_id, asset, side, price, qty) VALUES ($1, $2, 'buy', 64000, 1) RETURNING id::text`, [user, ASSET])
    await pool.query(`UPDATE trading.balances SET locked = locked + 64000, available = available - 64000 WHERE user_id = $1 AND currency = 'USD'`, [user])
    for (const filled of ['0.5', '1']) {
      await pool.query(`UPDATE trading.orders SET filled = $2::numeric, status = CASE WHEN $2::numeric >= qty THEN 'filled' ELSE 'partially_filled' END WHERE id = $1`, [placed.rows[0]!.id, filled])
      await pool.query(`UPDATE trading.balances SET locked = locked - 32000 WHERE user_id = $1 AND currency = 'USD'`, [user])
    }
    await sleep(20)
  }
}

function openBookClient(url: string, token: string, burstStart: () => number): Promise<BookClient> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url}?token=${token}`)
    const client: BookClient = { ws, frames: 0, last: new Map(), perLevel: new Map() }
    ws.on('open', () => ws.send(JSON.stringify({ op: 'subscribe', topic: BOOK })))
    ws.on('message', (raw) => {
      const frame = JSON.parse(raw.toString()) as { op: string; data?: { side: string; price: string; qty: string } }
      if (frame.op === 'subscribed') return resolve(client)
      if (frame.op !== 'event' || frame.data === undefined) return
      const level = `${frame.data.side}:${frame.data.price}`
      client.frames++
      client.last.set(level, frame.data.qty)
      if (burstStart() !== 0) client.perLevel.set(level, (client.perLevel.get(level) ?? 0) + 1)
    })
    ws.on('error', reject)
  })
}

interface Trader { ws: WebSocket; ids: string[]; head: string }

function openTrader(url: string, token: string, topic: string): Promise<Trader> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url}?token=${token}`)
    const trader: Trader = { ws, ids: [], head: '' }
    ws.on('open', () => ws.send(JSON.stringify({ op: 'subscribe', topic })))
    ws.on('message', (raw) => {
      const frame = JSON.parse(raw.toString()) as { op: string; id?: string; head?: string }
      if (frame.op === 'subscribed') {
        trader.head = frame.head!
        resolve(trader)
      }
      if (frame.op === 'event') trader.ids.push(frame.id!)
    })
    ws.on('error', reject)
  })
}

/** BENCHMARKS.md's section for the phase (bench/report.ts). */
export function tradingSection(r: TradingResult): string[] {
  const s = r.sizes
  const ok = (pass: boolean): string => (pass ? 'yes' : '**no**')
  return [
    '## 9. Conflation: the trading catalog under a book burst',
    '',
    `How: ${s.subscribers.toLocaleString('en')} WebSocket clients subscribe to \`orderbook:BTC-USD\` (${2 * s.levels} price levels, conflated per level every ${s.everyMs} ms) while one writer rewrites the levels at ${s.changesPerSecond.toLocaleString('en')} changes/s for ${s.seconds} s and ${s.traders} traders place and fill orders, each watching \`user:<id>\` (\`order:update\`, \`balance:update\`: never conflated). After the burst every client's last value of every level is compared with the database, and every trader's events with the history.`,
    '',
    '| measure | walcast | target | met |',
    '|---|---|---|---|',
    `| book changes committed | ${r.bookChanges.toLocaleString('en')} (${r.bookChangesPerSecond.toLocaleString('en')}/s) | ≥ 5,000/s on one asset | ${ok(r.bookChangesPerSecond >= 5000)} |`,
    `| book frames per client per second | ${r.framesPerClientPerSecond} | ≤ ${r.conflationCeilingPerClientPerSecond} (every level once per interval, edges included) | ${ok(r.framesPerClientPerSecond <= r.conflationCeilingPerClientPerSecond)} |`,
    `| most deliveries of one level to one client over the burst | ${r.maxLevelDeliveries} (${r.maxLevelDeliveriesPerSecond}/s) | ≤ ${r.levelBound} (one per ${s.everyMs} ms: ${r.conflationRatePerSecond}/s) | ${ok(r.maxLevelDeliveries <= r.levelBound)} |`,
    `| clients whose last value of every level equals the database | ${r.exactClients.toLocaleString('en')} / ${r.clients.toLocaleString('en')} | all | ${ok(r.exactClients === r.clients)} |`,
    `| order and balance updates delivered in order, once | ${r.userEventsInOrder} / ${r.userEvents} (missing ${r.userEventsMissing}, duplicated ${r.userEventsDuplicated}) | all | ${ok(r.userEventsInOrder === r.userEvents && r.userEventsMissing === 0 && r.userEventsDuplicated === 0)} |`,
    `| server CPU per second of burst | ${r.serverCpuPerSecond} s | | |`,
    `| Socket.IO + NOTIFY | ${r.peers.socketio} | | — |`,
    `| Centrifugo | ${r.peers.centrifugo} | | — |`,
    '',
  ]
}
