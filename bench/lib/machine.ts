import os from 'node:os'
import pg from 'pg'

export interface MachineDescription {
  readonly cpu: string
  readonly cores: number
  readonly memoryGb: number
  readonly os: string
  readonly node: string
  readonly postgres: string
  /**
   * How fast this host was when the run began (absent in older results). Two VMs that
   * report the same CPU model can differ twofold (see bench/findings.md, 2026-12-02,
   * latency): figures of runs on different hosts compare only next to these.
   */
  readonly calibration?: Calibration
}

export interface Calibration {
  /** One core: JSON.stringify + JSON.parse of an event-sized object, µs per round trip (lower is faster). */
  readonly jsonMicros: number
  /** Postgres: a one-row INSERT committed on its own, µs each, sequential (the latency phase's writer does this). */
  readonly commitMicros: number
  /** The 1-minute load average when measured. */
  readonly loadAverage: number
}

/** A few hundred ms of fixed work on one core and on Postgres; the median of 5 tries each. */
export async function calibrate(client: pg.Client): Promise<Calibration> {
  const event = { op: 'event', id: '0000000001a2b3c4-00000001', topic: 'escrow:42', type: 'escrow:milestone_released', data: { id: 1, escrowId: 42, title: 'bench', amount: '12345', currency: 'EUR', status: 'released', releasedAt: '2026-12-02T10:03:20.123456+00:00' }, ts: '2026-12-02T10:03:20.123Z' }
  const median = (values: number[]): number => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!
  const json: number[] = []
  let sink = 0
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now()
    for (let j = 0; j < 10_000; j++) sink += (JSON.parse(JSON.stringify(event)) as { id: string }).id.length
    json.push(((performance.now() - t0) * 1000) / 10_000)
  }
  // Also keeps the loop's result alive, so the compiler cannot drop the work.
  if (sink === 0) throw new Error('calibration: the JSON round trips produced nothing')
  await client.query('CREATE TEMP TABLE walcast_calibration (id int, at timestamptz)')
  const commits: number[] = []
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now()
    for (let j = 0; j < 200; j++) await client.query('INSERT INTO walcast_calibration VALUES ($1, clock_timestamp())', [j])
    commits.push(((performance.now() - t0) * 1000) / 200)
  }
  await client.query('DROP TABLE walcast_calibration')
  return { jsonMicros: Math.round(median(json) * 100) / 100, commitMicros: Math.round(median(commits)), loadAverage: Math.round(os.loadavg()[0]! * 100) / 100 }
}

export async function describeMachine(postgresUrl: string): Promise<MachineDescription> {
  const client = new pg.Client({ connectionString: postgresUrl })
  await client.connect()
  let version = 'unknown'
  let calibration: Calibration | undefined
  try {
    version = String((await client.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]?.v ?? version)
    calibration = await calibrate(client)
  } finally {
    await client.end()
  }
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memoryGb: Math.round(os.totalmem() / 1024 ** 3),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    postgres: version,
    ...(calibration === undefined ? {} : { calibration }),
  }
}
