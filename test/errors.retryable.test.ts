import pg from 'pg'
import t from 'tap'
import { coerceError, isRetryable, isWalcastError, sqlState, StartupError, WalcastError } from '../src/errors.ts'
import { adminUrl } from './helpers/db.ts'

async function failureOf(work: (client: pg.Client) => Promise<unknown>, url = adminUrl()): Promise<unknown> {
  const client = new pg.Client({ connectionString: url })
  client.on('error', () => {})
  try {
    await client.connect()
    await work(client)
  } catch (err) {
    return err
  } finally {
    await client.end().catch(() => {})
  }
  throw new Error('expected a failure')
}

t.test('real Postgres failures are classified: retry what can succeed later, nothing else', async (t) => {
  const syntax = await failureOf((c) => c.query('SELEC 1'))
  t.equal(sqlState(syntax), '42601')
  t.notOk(isRetryable(syntax), 'a syntax error is a bug')
  const missing = await failureOf((c) => c.query('SELECT * FROM no_such_table'))
  t.equal(sqlState(missing), '42P01')
  t.notOk(isRetryable(missing))
  const killed = await failureOf((c) => c.query('SELECT pg_terminate_backend(pg_backend_pid())'))
  t.ok(isRetryable(killed), `a terminated backend (${sqlState(killed) ?? (killed as Error).message}) is retryable`)
  const port = new URL(adminUrl())
  port.port = '9'
  const refused = await failureOf(async () => {}, port.toString())
  t.equal((refused as { code?: string }).code, 'ECONNREFUSED')
  t.ok(isRetryable(refused), 'a server that is not there (yet) is retryable')
})

t.test('the error helpers', async (t) => {
  const startup = new StartupError('SLOT_ACTIVE', 'slot busy', { hint: 'wait', cause: new Error('root') })
  t.ok(isWalcastError(startup))
  t.ok(startup instanceof WalcastError)
  t.equal(startup.name, 'StartupError')
  t.equal(startup.code, 'SLOT_ACTIVE')
  t.equal(startup.hint, 'wait')
  t.equal((startup.cause as Error).message, 'root')
  t.notOk(isWalcastError(new Error('plain')))
  const plain = new Error('x')
  t.equal(coerceError(plain), plain, 'an Error stays itself')
  t.equal(coerceError('text').message, 'text')
  t.equal(coerceError({ a: 1 }).message, '{"a":1}')
  t.equal(sqlState({ code: 'ECONNRESET' }), undefined, 'node codes are not SQLSTATEs')
  t.equal(sqlState(null), undefined)
  t.ok(isRetryable({ code: '40001' }), 'serialization failure')
  t.ok(isRetryable(new Error('Connection terminated unexpectedly')))
  t.notOk(isRetryable(new Error('boom')))
  t.notOk(isRetryable('just a string'))
})
