import t from 'tap'
import { loadConfig } from '../src/config.ts'

t.test('WALCAST_WAL_WARN_BYTES and WALCAST_WAL_CHECK_INTERVAL', async (t) => {
  const defaults = loadConfig({})
  t.same(defaults.observability, { walWarnBytes: 2 ** 30, walCheckIntervalMs: 30_000 })
  const read = (value: string) => loadConfig({ WALCAST_WAL_WARN_BYTES: value }).observability.walWarnBytes
  t.equal(read('1048576'), 1_048_576, 'a bare number is bytes')
  t.equal(read('512MB'), 512_000_000)
  t.equal(read('2GiB'), 2 * 2 ** 30)
  t.equal(read('10 kib'), 10_240, 'units are case-insensitive')
  t.equal(loadConfig({ WALCAST_WAL_CHECK_INTERVAL: '5s' }).observability.walCheckIntervalMs, 5000)
  t.throws(() => read('0'), { code: 'CONFIG_INVALID', variable: 'WALCAST_WAL_WARN_BYTES', message: /must be greater than zero/ })
  t.throws(() => read('99999TiB'), { code: 'CONFIG_INVALID', message: /below 8 PiB/ })
  t.throws(() => read('-5'), { code: 'CONFIG_INVALID', message: /expected a size such as/ })
  t.throws(() => loadConfig({ WALCAST_WAL_CHECK_INTERVAL: 'often' }), { variable: 'WALCAST_WAL_CHECK_INTERVAL', message: /expected a duration/ })
})
