import t from 'tap'
import { createTestDatabase } from '../helpers/db.ts'
import { childEnv, spawnWalcast } from '../helpers/spawn.ts'
import { TEST_JWT_SECRET } from '../helpers/tokens.ts'
import { waitFor } from '../helpers/wait.ts'

interface LogLine {
  level: string
  msg: string
  variable?: string
  suggestion?: string
}

const SECRET_VALUE = 'never-log-me-0123456789abcdef0123456789'

function jsonLines(text: string): LogLine[] {
  return text.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as LogLine)
}

t.test('walcast serve warns once per unknown WALCAST_* name, with the closest known one, never the value', async (t) => {
  const tdb = await createTestDatabase(t)
  const walcast = spawnWalcast(['serve'], childEnv(tdb, {
    WALCAST_JWT_SECRET: TEST_JWT_SECRET,
    WALCAST_RETENSION: '1d',
    WALCAST_JWT_SECRETT: SECRET_VALUE,
  }))
  t.teardown(() => { if (walcast.child.exitCode === null) walcast.kill('SIGKILL') })
  const output = (): string => walcast.stdout() + walcast.stderr()
  await waitFor(() => output().includes('"walcast running"'), 60_000, 'walcast serve to start')
  walcast.kill('SIGTERM')
  t.equal(await walcast.exited, 0, 'it runs (a typo is not fatal) and stops cleanly')

  const warnings = jsonLines(walcast.stdout()).filter((line) => line.variable !== undefined)
  t.same(warnings.map(({ level, variable, suggestion }) => ({ level, variable, suggestion })), [
    { level: 'warn', variable: 'WALCAST_JWT_SECRETT', suggestion: 'WALCAST_JWT_SECRET' },
    { level: 'warn', variable: 'WALCAST_RETENSION', suggestion: 'WALCAST_RETENTION' },
  ], 'one JSON line per name, on the log (stdout)')
  t.match(warnings[1]!.msg, /WALCAST_RETENSION.*WALCAST_RETENTION/, 'the message names both')
  t.notOk(output().includes(SECRET_VALUE), 'the value is never logged')
  t.notMatch(output(), /"[^"]*":"1d"/, 'nor the typo\'s value')
})

t.test('the other commands warn on stderr: their stdout stays their output', async (t) => {
  const tdb = await createTestDatabase(t)
  const migrate = spawnWalcast(['migrate', '--json'], childEnv(tdb, { WALCAST_SLOT_RECREAT: 'true' }))
  t.equal(await migrate.exited, 0)
  t.same(JSON.parse(migrate.stdout().trim()).applied, [], 'stdout is the command\'s JSON alone')
  t.same(jsonLines(migrate.stderr()).map(({ variable, suggestion }) => ({ variable, suggestion })),
    [{ variable: 'WALCAST_SLOT_RECREAT', suggestion: 'WALCAST_SLOT_RECREATE' }])
})
