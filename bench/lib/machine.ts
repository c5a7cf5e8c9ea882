import os from 'node:os'
import pg from 'pg'

export interface MachineDescription {
  readonly cpu: string
  readonly cores: number
  readonly memoryGb: number
  readonly os: string
  readonly node: string
  readonly postgres: string
}

export async function describeMachine(postgresUrl: string): Promise<MachineDescription> {
  const client = new pg.Client({ connectionString: postgresUrl })
  await client.connect()
  let version = 'unknown'
  try {
    version = String((await client.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]?.v ?? version)
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
  }
}
