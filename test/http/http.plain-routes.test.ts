import net from 'node:net'
import t from 'tap'
import { startHttpServer } from '../../src/http/server.ts'
import { json, type HttpRoute } from '../../src/http/route.ts'
import { capturingLogger } from '../helpers/log.ts'

t.test('plain routes next to the WebSocket path: answers, 404, 500 without a crash', async (t) => {
  const capture = capturingLogger('debug')
  const seen: { path: string; query: string; header: string }[] = []
  const routes: HttpRoute[] = [
    { method: 'get', path: '/echo', handle: (req) => { seen.push({ path: req.path, query: req.query, header: req.header('X-Test') }); return json(200, { ok: true }, { 'x-extra': '1' }) } },
    { method: 'post', path: '/boom', handle: async () => { throw new Error('handler bug') } },
  ]
  const server = await startHttpServer({ host: '127.0.0.1', port: 0 }, routes, capture.log, (app) => {
    app.ws('/v1/ws', { upgrade: (res) => { res.writeStatus('401 Unauthorized').end('no') } })
  })
  t.teardown(() => server.close())
  const base = `http://127.0.0.1:${server.port}`

  const ok = await fetch(`${base}/echo?token=secret-value`, { headers: { 'x-test': 'yes' } })
  t.equal(ok.status, 200)
  t.equal(ok.headers.get('content-type'), 'application/json')
  t.equal(ok.headers.get('x-extra'), '1')
  t.same(await ok.json(), { ok: true })
  t.same(seen, [{ path: '/echo', query: 'token=secret-value', header: 'yes' }], 'handlers get path, raw query and headers')

  const missing = await fetch(`${base}/nope`)
  t.equal(missing.status, 404)
  t.same(await missing.json(), { error: { code: 'not_found', message: 'no such endpoint' } })

  const boom = await fetch(`${base}/boom?token=secret-value`, { method: 'POST' })
  t.equal(boom.status, 500)
  t.same(await boom.json(), { error: { code: 'internal', message: 'internal error' } })
  t.ok(capture.lines().some((l) => l.includes('http handler failed')), 'the failure is logged')
  t.notOk(capture.lines().some((l) => l.includes('secret-value')), 'without the query string')

  const again = await fetch(`${base}/echo`)
  t.equal(again.status, 200, 'the server keeps serving')
  server.close()
  server.close()
  const refused = await new Promise<string>((resolve) => {
    const socket = net.connect(server.port, '127.0.0.1')
    socket.on('connect', () => { socket.destroy(); resolve('connected') })
    socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message))
  })
  t.equal(refused, 'ECONNREFUSED', 'closed: no longer accepting connections')
})

t.test('a port in use is a clear error', async (t) => {
  const first = await startHttpServer({ host: '127.0.0.1', port: 0 }, [], capturingLogger().log)
  t.teardown(() => first.close())
  await t.rejects(startHttpServer({ host: '127.0.0.1', port: first.port }, [], capturingLogger().log), {
    code: 'HTTP_LISTEN_FAILED',
    message: /cannot listen on 127\.0\.0\.1:\d+: is the port in use\?/,
    hint: /set WALCAST_PORT to a free port/,
  })
})
