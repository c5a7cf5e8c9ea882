import t from 'tap'
import { loadConfig, parseDuration } from '../src/config.ts'
import { ConfigError } from '../src/errors.ts'

t.test('defaults', async (t) => {
  const config = loadConfig({}, '/srv/app')
  t.equal(config.database.url, undefined, 'no DATABASE_URL: embedded')
  t.equal(config.demo, true)
  t.equal(config.embedded.dataDir, '/srv/app/.walcast/pgdata')
  t.equal(config.replication.slot, 'walcast')
  t.equal(config.replication.publication, 'walcast')
  t.equal(config.history.retentionMs, 7 * 86_400_000)
  t.equal(config.log.level, 'info')
  t.equal(config.http.port, 8080)
  t.equal(config.http.host, '127.0.0.1')
  t.ok(Object.isFrozen(config) && Object.isFrozen(config.replication), 'frozen')
})

t.test('explicit values', async (t) => {
  const config = loadConfig({
    DATABASE_URL: 'postgresql://u:p@db:5432/app', WALCAST_SLOT: 'walcast_eu', WALCAST_PUBLICATION: 'pub',
    WALCAST_RETENTION: '36h', WALCAST_LOG_LEVEL: 'DEBUG', WALCAST_SLOT_RECREATE: 'yes', WALCAST_HEARTBEAT: '500ms',
    WALCAST_BATCH_EVENTS: '100', WALCAST_DATA_DIR: '/data', WALCAST_PORT: '0',
  })
  t.equal(config.database.url, 'postgresql://u:p@db:5432/app')
  t.equal(config.demo, false)
  t.equal(config.replication.slot, 'walcast_eu')
  t.equal(config.history.retentionMs, 36 * 3_600_000)
  t.equal(config.log.level, 'debug')
  t.equal(config.replication.slotRecreate, true)
  t.equal(config.replication.heartbeatMs, 500)
  t.equal(config.replication.maxBatchEvents, 100)
  t.equal(config.embedded.dataDir, '/data')
  t.equal(config.http.port, 0)
  t.equal(loadConfig({ WALCAST_SLOT_RECREATE: 'off' }).replication.slotRecreate, false)
  t.equal(parseDuration('X', '90'), 90_000, 'a bare number is seconds')
})

t.test('each invalid value names its variable', async (t) => {
  const cases: Array<[Record<string, string>, string, RegExp]> = [
    [{ DATABASE_URL: 'not a url' }, 'DATABASE_URL', /is not a URL/],
    [{ DATABASE_URL: 'mysql://x/y' }, 'DATABASE_URL', /expected a postgres:\/\/ URL/],
    [{ WALCAST_SLOT: 'Bad-Slot' }, 'WALCAST_SLOT', /lower-case Postgres identifier/],
    [{ WALCAST_PUBLICATION: 'x'.repeat(64) }, 'WALCAST_PUBLICATION', /at most 63/],
    [{ WALCAST_RETENTION: '7 days' }, 'WALCAST_RETENTION', /expected a duration/],
    [{ WALCAST_RETENTION: '0s' }, 'WALCAST_RETENTION', /greater than zero/],
    [{ WALCAST_LOG_LEVEL: 'loud' }, 'WALCAST_LOG_LEVEL', /expected one of/],
    [{ WALCAST_BATCH_EVENTS: '-1' }, 'WALCAST_BATCH_EVENTS', /whole number/],
    [{ WALCAST_BATCH_EVENTS: '0' }, 'WALCAST_BATCH_EVENTS', /between 1 and/],
    [{ WALCAST_SLOT_RECREATE: 'maybe' }, 'WALCAST_SLOT_RECREATE', /true or false/],
    [{ WALCAST_PORT: '70000' }, 'WALCAST_PORT', /between 0 and 65535/],
  ]
  for (const [env, variable, message] of cases) {
    t.throws(() => loadConfig(env), { name: 'ConfigError', code: 'CONFIG_INVALID', variable, message }, variable)
  }
  t.type(new ConfigError('X', 'y'), Error)
})

t.test('blank values count as unset', async (t) => {
  t.equal(loadConfig({ DATABASE_URL: '  ', WALCAST_SLOT: '' }).replication.slot, 'walcast')
})

t.test('the bus between nodes: unset means one node with no Redis; each bad value names its variable', async (t) => {
  const single = loadConfig({ WALCAST_SLOT: 'feed' })
  t.same(single.bus, { redisUrl: undefined, role: 'all', stream: 'walcast:feed:bus', maxLen: 100_000, fallbackPollMs: 250 })
  const several = loadConfig({ WALCAST_REDIS_URL: 'redis://127.0.0.1:6380/1', WALCAST_ROLE: 'Gateway', WALCAST_BUS_STREAM: 'app:{walcast}:bus', WALCAST_BUS_MAXLEN: '5000', WALCAST_BUS_FALLBACK_POLL: '1s' })
  t.same(several.bus, { redisUrl: 'redis://127.0.0.1:6380/1', role: 'gateway', stream: 'app:{walcast}:bus', maxLen: 5000, fallbackPollMs: 1000 })
  t.equal(loadConfig({ WALCAST_REDIS_URL: 'rediss://h:6379' }).bus.redisUrl, 'rediss://h:6379')
  const cases: [Record<string, string>, string, RegExp][] = [
    [{ WALCAST_REDIS_URL: 'http://127.0.0.1:6379' }, 'WALCAST_REDIS_URL', /redis:\/\/ or rediss:\/\//],
    [{ WALCAST_REDIS_URL: 'not a url' }, 'WALCAST_REDIS_URL', /redis:\/\//],
    [{ WALCAST_ROLE: 'ingest' }, 'WALCAST_ROLE', /all or gateway/],
    [{ WALCAST_ROLE: 'gateway' }, 'WALCAST_ROLE', /needs WALCAST_REDIS_URL/],
    [{ WALCAST_BUS_STREAM: 'has space' }, 'WALCAST_BUS_STREAM', /Redis key/],
    [{ WALCAST_BUS_MAXLEN: '10' }, 'WALCAST_BUS_MAXLEN', /between 100 and/],
    [{ WALCAST_BUS_FALLBACK_POLL: 'often' }, 'WALCAST_BUS_FALLBACK_POLL', /duration/],
  ]
  for (const [env, variable, message] of cases) {
    t.throws(() => loadConfig(env), { name: 'ConfigError', code: 'CONFIG_INVALID', variable, message }, variable)
  }
})

t.test('history reads of subscriptions: fewer at once than the pool holds, and a bounded wait for a turn', async (t) => {
  const defaults = loadConfig({})
  t.equal(defaults.database.replayReads, 6, 'the pool (8) less two')
  t.equal(defaults.database.replayWaitMs, 30_000)
  t.equal(loadConfig({ WALCAST_DB_POOL: '2' }).database.replayReads, 1, 'at least one')
  const set = loadConfig({ WALCAST_DB_POOL: '20', WALCAST_DB_REPLAY_READS: '19', WALCAST_DB_REPLAY_WAIT: '5s' })
  t.equal(set.database.replayReads, 19)
  t.equal(set.database.replayWaitMs, 5_000)
  t.throws(() => loadConfig({ WALCAST_DB_POOL: '4', WALCAST_DB_REPLAY_READS: '4' }), { name: 'ConfigError', message: /WALCAST_DB_REPLAY_READS.*between 1 and 3/ }, 'the whole pool is refused: the rest must find a connection')
  t.throws(() => loadConfig({ WALCAST_DB_REPLAY_WAIT: 'soon' }), { name: 'ConfigError', message: /WALCAST_DB_REPLAY_WAIT/ })
})

t.test('access checks: a few at once, and a bounded wait for a turn', async (t) => {
  const defaults = loadConfig({})
  t.equal(defaults.database.accessChecks, 2)
  t.equal(defaults.database.accessCheckWaitMs, 5_000)
  t.equal(loadConfig({ WALCAST_DB_POOL: '2' }).database.accessChecks, 1, 'never the whole pool')
  const set = loadConfig({ WALCAST_DB_POOL: '20', WALCAST_DB_ACCESS_CHECKS: '10', WALCAST_DB_ACCESS_CHECK_WAIT: '750ms' })
  t.equal(set.database.accessChecks, 10)
  t.equal(set.database.accessCheckWaitMs, 750)
  t.throws(() => loadConfig({ WALCAST_DB_POOL: '4', WALCAST_DB_ACCESS_CHECKS: '4' }), { name: 'ConfigError', message: /WALCAST_DB_ACCESS_CHECKS.*between 1 and 3/ })
  t.throws(() => loadConfig({ WALCAST_DB_ACCESS_CHECK_WAIT: 'soon' }), { name: 'ConfigError', message: /WALCAST_DB_ACCESS_CHECK_WAIT/ })
})
