/**
 * `node --import tsx bench/profile-replay.ts [--events N] [--rounds R] [--trees DIR,DIR] [--modes parse,count] [--no-batch] [--floors] [--page N]
 *   [--keep | --db NAME] [--prof DIR]`:
 * issue #15's replay (one client, one topic, from the beginning of its history) with the
 * CPU of each party read separately: walcast (the build of each tree, as `walcast serve`
 * runs it), the Postgres backends of its database, and the client (bench/lib/replay-client.ts).
 * Each tree gets its own database with the same N events, written once; replays of the
 * trees interleave (A B A B …), each after one unmeasured warm-up replay. With `--floors`,
 * also: Postgres's page assembly alone (history_pages page after page, one connection,
 * nothing else), and a bare uWS server sending the same batch frames, built beforehand,
 * to the same client: what no change inside walcast can beat on this host. `--keep` leaves
 * the databases, without their slots (nothing is to hold WAL), for more runs: `--db NAME` then replays
 * one of them from every tree, without writing again. A tree is a checkout with its build
 * (dist/), e.g. `git archive <commit> | tar -x -C /tmp/A`, node_modules linked, `npm run build`.
 * Postgres: DATABASE_URL's server, or an embedded one. Bounded: every replay times out.
 */
import { fork, type ChildProcess } from 'node:child_process'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import pg from 'pg'
import uWS from 'uWebSockets.js'
import { databaseUrl, startBenchPostgres } from './lib/postgres.ts'
import { cpuSeconds, forkTs, REPO, type ChildHandle } from './lib/processes.ts'
import { replayEscrow, seedPopulation } from './lib/seed.ts'
import { BENCH_JWT_SECRET, signToken } from './lib/token.ts'
import { startWriter } from './lib/writer.ts'

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '100000' },
    rounds: { type: 'string', default: '3' },
    trees: { type: 'string', default: REPO },
    modes: { type: 'string', default: 'parse' },
    'no-batch': { type: 'boolean', default: false },
    floors: { type: 'boolean', default: false },
    // Leaves the databases for experiments by hand (drop them after).
    keep: { type: 'boolean', default: false },
    // A kept database (its N events already durable): every tree replays it, each walcast on a slot of its own.
    db: { type: 'string' },
    // A V8 CPU profile of each walcast process, written to this directory when it stops.
    prof: { type: 'string' },
    page: { type: 'string', default: '2000' },
  },
})
const events = Number(values.events)
const rounds = Number(values.rounds)
const trees = values.trees.split(',').map((tree) => path.resolve(tree))
const modes = values.modes.split(',') as Array<'parse' | 'count'>
const batch = !values['no-batch']
const population = { users: 10, escrows: 10 }
const topic = `escrow:${replayEscrow(population)}`
const SINCE = '0000000000000000-00000000'

const postgres = await startBenchPostgres(process.env.DATABASE_URL)
const admin = new pg.Client({ connectionString: postgres.url })
await admin.connect()
const client = fork(path.join(REPO, 'bench/lib/replay-client.ts'), [], { execArgv: ['--import', 'tsx'], cwd: REPO })
const token = await signToken(BENCH_JWT_SECRET, '1')
const systems: Array<{ tree: string; name: string; url: string; slot: string; walcast: ChildHandle & { port: number } }> = []
try {
  for (const [i, tree] of trees.entries()) {
    if (values.db !== undefined) {
      const url = databaseUrl(postgres.url, values.db)
      systems.push({ tree, name: values.db, url, slot: `${values.db}_${process.pid}_${i}`, walcast: await startWalcast(tree, url, `${values.db}_${process.pid}_${i}`) })
      continue
    }
    const name = `bench_replay_${process.pid}_${i}`
    const url = await postgres.createDatabase(name)
    await seedPopulation(url, population)
    const walcast = await startWalcast(tree, url, name)
    systems.push({ tree, name, url, slot: name, walcast })
    const writer = await startWriter({ url, escrows: [replayEscrow(population)], rowsPerTransaction: 100, eventsPerSecond: 0, durationMs: 300_000, maxEvents: events })
    await writer.done
    await untilDurable(url)
    log(`${tree}: ${events} events durable in ${name}`)
  }
  for (const system of systems) for (const mode of modes) await replay(system, mode)
  for (let round = 1; round <= rounds; round++) {
    for (const system of systems) {
      for (const mode of modes) {
        const r = await replay(system, mode)
        log(`r${round} ${system.tree} ${mode}${batch ? '' : ' no-batch'}: ${Math.round(events / (r.allMs / 1000))} events/s (${Math.round(r.allMs)} ms, first ${Math.round(r.firstMs)} ms, ${r.messages} messages, disorder ${r.disorder}); CPU µs/event walcast ${perEvent(r.walcast)}, postgres ${perEvent(r.postgres)}, client ${perEvent(r.client)}; % of a core walcast ${pct(r.walcast, r.allMs)}, postgres ${pct(r.postgres, r.allMs)}, client ${pct(r.client, r.allMs)}; load ${load()}`)
      }
    }
  }
  if (values.floors) await floors(systems[0]!.url)
} finally {
  client.kill()
  for (const system of systems) {
    await system.walcast.stop().catch(() => {})
    if (values.db !== undefined || values.keep) await admin.query('SELECT pg_drop_replication_slot($1)', [system.slot]).catch(() => {})
    if (values.keep) log(`kept database ${system.name}`)
    else if (values.db === undefined) await postgres.dropDatabase(system.name).catch(() => {})
  }
  await admin.end()
  if (!values.keep && values.db === undefined) await postgres.stop()
}
process.exit(0)

async function startWalcast(tree: string, url: string, slot: string): Promise<ChildHandle & { port: number }> {
  const { handle, ready } = await forkTs<{ ready: true; port: number }>(path.join(tree, 'bench/lib/walcast-child.mjs'), {
    WALCAST_HOST: '127.0.0.1', WALCAST_PORT: '0', WALCAST_LOG_LEVEL: 'warn',
    DATABASE_URL: url, WALCAST_JWT_SECRET: BENCH_JWT_SECRET, WALCAST_SLOT: slot,
  }, 60_000, values.prof === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${values.prof}`])
  return { ...handle, port: ready.port }
}

async function untilDurable(url: string): Promise<void> {
  const db = new pg.Client({ connectionString: url })
  await db.connect()
  try {
    const deadline = Date.now() + 600_000
    while (Date.now() < deadline) {
      const n = Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM walcast.event_topics WHERE topic = $1', [topic])).rows[0]!.n)
      if (n >= events) return
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    throw new Error('history did not fill in 600 s')
  } finally {
    await db.end()
  }
}

/** CPU seconds of the database's client backends (the walsender is not the replay's). */
async function backendCpu(name: string, seen: Map<number, number>): Promise<number> {
  const rows = (await admin.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend'`, [name])).rows
  let total = 0
  for (const { pid } of rows) {
    try {
      const cpu = cpuSeconds(pid)
      total += cpu - (seen.get(pid) ?? cpu)
      if (!seen.has(pid)) seen.set(pid, cpu)
    } catch { /* ended meanwhile */ }
  }
  return total
}

interface Measured {
  readonly allMs: number
  readonly firstMs: number
  readonly messages: number
  readonly disorder: number
  readonly walcast: number
  readonly postgres: number
  readonly client: number
}

async function replay(system: (typeof systems)[number], mode: 'parse' | 'count'): Promise<Measured> {
  const seen = new Map<number, number>()
  await backendCpu(system.name, seen)
  const walcast0 = cpuSeconds(system.walcast.pid)
  const reply = await job({ url: `ws://127.0.0.1:${system.walcast.port}/v1/ws`, token, topic, since: SINCE, expected: events, mode, batch })
  const walcast = cpuSeconds(system.walcast.pid) - walcast0
  // Backends that opened during the replay count from their start.
  const rows = (await admin.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend'`, [system.name])).rows
  let postgresCpu = 0
  for (const { pid } of rows) {
    try { postgresCpu += cpuSeconds(pid) - (seen.get(pid) ?? 0) } catch { /* ended */ }
  }
  return { allMs: reply.allMs!, firstMs: reply.firstMs!, messages: reply.messages!, disorder: reply.disorder!, walcast, postgres: postgresCpu, client: (reply.cpuUserUs! + reply.cpuSystemUs!) / 1e6 }
}

function job(message: Record<string, unknown>): Promise<Record<string, number>> {
  return new Promise((resolve) => {
    (client as ChildProcess).once('message', (reply) => resolve(reply as Record<string, number>))
    client.send(message)
  })
}

/** The two floors: Postgres assembling the pages alone; the client reading pre-built frames from bare uWS. */
async function floors(url: string): Promise<void> {
  const page = Number(values.page)
  const db = new pg.Client({ connectionString: url })
  await db.connect()
  const pid = (await db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid
  const frames: string[] = []
  for (let round = 0; round < 3; round++) {
    frames.length = 0
    const cpu0 = cpuSeconds(pid)
    const self0 = process.cpuUsage()
    const started = performance.now()
    let lsn = '0/0'
    let seq = 0
    let pages = 0
    for (;;) {
      const rows = (await db.query<{ frame: string; seq: number }>('SELECT frame, seq FROM walcast.history_pages($1::text[], $2::pg_lsn, $3::int, $4::int)', [[topic], lsn, seq, page])).rows
      pages++
      for (const row of rows) frames.push(row.frame)
      if (rows.length < page) break
      const lastFrame = rows[rows.length - 1]!.frame
      lsn = lastFrame.slice(lastFrame.lastIndexOf('"lsn":"') + 7, -2)
      seq = rows[rows.length - 1]!.seq
    }
    const ms = performance.now() - started
    const self = process.cpuUsage(self0)
    const cpu = cpuSeconds(pid) - cpu0
    log(`floor postgres: ${frames.length} frames in ${pages} pages of ${page}: ${Math.round(frames.length / (ms / 1000))} events/s on one connection, backend ${((cpu * 1e6) / frames.length).toFixed(2)} µs/event (${Math.round((cpu * 100_000) / ms)}% of a core), node+pg client ${(((self.user + self.system)) / frames.length).toFixed(2)} µs/event; load ${load()}`)
  }
  await db.end()
  // The batch frames walcast would send, built once.
  const messages: Buffer[] = []
  const head = `{"op":"events","topic":${JSON.stringify(topic)},"events":[`
  let text = ''
  for (const frame of frames) {
    if (text.length > 0 && text.length + frame.length + 3 > 64 * 1024) {
      messages.push(Buffer.from(`${head}${text}]}`))
      text = ''
    }
    text += text.length === 0 ? frame : `,${frame}`
  }
  if (text.length > 0) messages.push(Buffer.from(`${head}${text}]}`))
  const limit = 1 << 20
  let listen: uWS.us_listen_socket | undefined
  const app = uWS.App().ws<{ next: number }>('/*', {
    maxBackpressure: 64 << 20,
    open: (ws) => { ws.getUserData().next = 0 },
    message: (ws) => pump(ws),
    drain: (ws) => pump(ws),
  })
  const pump = (ws: uWS.WebSocket<{ next: number }>): void => {
    const data = ws.getUserData()
    ws.cork(() => {
      while (data.next < messages.length && ws.getBufferedAmount() < limit) ws.send(messages[data.next++]!, false)
    })
  }
  const port = await new Promise<number>((resolve) => app.listen('127.0.0.1', 0, (socket) => { listen = socket; resolve(uWS.us_socket_local_port(socket)) }))
  for (let round = 0; round < 4; round++) {
    for (const mode of modes) {
      const self0 = process.cpuUsage()
      const r = await job({ url: `ws://127.0.0.1:${port}/`, token, topic, since: SINCE, expected: frames.length, mode, batch })
      const self = process.cpuUsage(self0)
      if (round === 0) continue
      log(`floor uWS ${mode}: ${Math.round(frames.length / (r.allMs! / 1000))} events/s (${Math.round(r.allMs!)} ms, ${messages.length} messages of ≤ 64 KiB); CPU µs/event server ${((self.user + self.system) / frames.length).toFixed(2)}, client ${((r.cpuUserUs! + r.cpuSystemUs!) / frames.length).toFixed(2)} (${Math.round((r.cpuUserUs! + r.cpuSystemUs!) / 10 / r.allMs!)}% of a core); load ${load()}`)
    }
  }
  uWS.us_listen_socket_close(listen!)
}

function perEvent(seconds: number | undefined): string {
  return (((seconds ?? 0) * 1e6) / events).toFixed(2)
}

function pct(seconds: number | undefined, ms: number | undefined): string {
  return `${Math.round(((seconds ?? 0) * 100_000) / (ms ?? 1))}%`
}

function load(): string {
  return os.loadavg().map((n) => n.toFixed(1)).join(' ')
}

function log(message: string): void {
  process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${message}\n`)
}
