/**
 * The benchmark finds the programs it measures beside walcast (Centrifugo, pg_recvlogical,
 * redis-server)
 * or reports them as not measured: never a crash when one is missing.
 */
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { findRecvlogical } from '../../bench/floors/recvlogical.ts'
import { findCentrifugo } from '../../bench/peers/centrifugo/server.ts'
import { findRedisServer } from '../../bench/lib/redis.ts'

t.test('findCentrifugo: CENTRIFUGO_BIN, then PATH, then Go\'s bin directory; nothing when none holds it', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'walcast-find-'))
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }))
  const empty = { PATH: path.join(dir, 'nowhere'), GOPATH: path.join(dir, 'gopath'), HOME: dir }
  t.equal(findCentrifugo(empty), undefined, 'no binary anywhere')
  await fs.mkdir(path.join(dir, 'gopath/bin'), { recursive: true })
  const fromGo = path.join(dir, 'gopath/bin/centrifugo')
  await fs.writeFile(fromGo, '#!/bin/sh\n', { mode: 0o755 })
  t.equal(findCentrifugo(empty), fromGo, '$GOPATH/bin')
  const notExecutable = path.join(dir, 'centrifugo')
  await fs.writeFile(notExecutable, '', { mode: 0o644 })
  t.equal(findCentrifugo({ ...empty, PATH: dir }), fromGo, 'a file that cannot be run is passed over')
  t.equal(findCentrifugo({ ...empty, CENTRIFUGO_BIN: fromGo, PATH: dir }), fromGo, 'CENTRIFUGO_BIN first')
})

t.test('findRecvlogical: PG_RECVLOGICAL, then PATH; a file that cannot be run is passed over', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'walcast-find-'))
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }))
  const tool = path.join(dir, 'pg_recvlogical')
  await fs.writeFile(tool, '#!/bin/sh\n', { mode: 0o755 })
  t.equal(findRecvlogical({ PG_RECVLOGICAL: tool, PATH: '' }), tool, 'PG_RECVLOGICAL')
  t.equal(findRecvlogical({ PATH: dir }), tool, 'on PATH')
  await fs.chmod(tool, 0o644)
  t.not(findRecvlogical({ PG_RECVLOGICAL: tool, PATH: dir }), tool, 'not executable: not taken')
})

t.test('findRedisServer: REDIS_SERVER_BIN, then PATH; nothing when neither holds it (the scale-out phase is then not measured)', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'walcast-find-'))
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }))
  t.equal(findRedisServer({ PATH: path.join(dir, 'nowhere') }), undefined, 'no binary anywhere')
  const server = path.join(dir, 'redis-server')
  await fs.writeFile(server, '#!/bin/sh\n', { mode: 0o755 })
  t.equal(findRedisServer({ PATH: dir }), server, 'on PATH')
  t.equal(findRedisServer({ REDIS_SERVER_BIN: server, PATH: '' }), server, 'REDIS_SERVER_BIN')
  await fs.chmod(server, 0o644)
  t.equal(findRedisServer({ REDIS_SERVER_BIN: server, PATH: dir }), undefined, 'not executable: not taken')
})
