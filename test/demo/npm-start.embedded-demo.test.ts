import t from 'tap'
import { startEmbeddedServe } from '../helpers/embedded-serve.ts'
import { waitFor } from '../helpers/wait.ts'

t.test('the embedded default (`npm start`): dashboard URL printed, dev sign-in on, the demo writer makes events flow', async (t) => {
  const { walcast, url } = await startEmbeddedServe(t)
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
