import fs from 'node:fs/promises'
import t from 'tap'
import { loadConfig } from '../src/config.ts'
import { closestName, editDistance } from '../src/edit-distance.ts'

t.test('a mistyped WALCAST_* name is reported with the closest known one, and ignored', async (t) => {
  const config = loadConfig({ WALCAST_RETENSION: '1d', WALCAST_SLOT: 'walcast_eu' })
  t.same(config.unknownVariables, [{ name: 'WALCAST_RETENSION', suggestion: 'WALCAST_RETENTION' }])
  t.equal(config.history.retentionMs, 7 * 86_400_000, 'the typo set nothing: the default stands')
  t.equal(config.replication.slot, 'walcast_eu', 'known names are not reported')
  t.ok(Object.isFrozen(config.unknownVariables) && Object.isFrozen(config.unknownVariables[0]), 'frozen like the rest')
})

t.test('each unknown name once, sorted, in any case; other variables are not walcast\'s business', async (t) => {
  const config = loadConfig({
    WALCAST_JWT_SECRETS: 'a-secret-that-must-never-be-logged-0123456789',
    WALCAST_DB_POOLSIZE: '4',
    walcast_slot: 'x',
    WALCAST_PRUNE_INTERVALL: '5m',
    PATH: '/usr/bin', NODE_ENV: 'production', WALCASTER: 'x', DATABASE_URL: 'postgres://u:p@db/app',
  })
  t.same(config.unknownVariables, [
    { name: 'WALCAST_DB_POOLSIZE', suggestion: 'WALCAST_DB_POOL' },
    { name: 'WALCAST_JWT_SECRETS', suggestion: 'WALCAST_JWT_SECRET' },
    { name: 'WALCAST_PRUNE_INTERVALL', suggestion: 'WALCAST_PRUNE_INTERVAL' },
    { name: 'walcast_slot', suggestion: 'WALCAST_SLOT' },
  ])
  t.notMatch(JSON.stringify(config.unknownVariables), /never-be-logged|5m/, 'names only: values may be secrets')
  t.equal(config.auth.secret, undefined, 'the misspelt secret is not used')
})

t.test('every variable src/config.ts names is known: none is read only on some condition', async (t) => {
  const source = await fs.readFile('src/config.ts', 'utf8')
  const names = [...new Set([...source.matchAll(/'((?:WALCAST|DATABASE)_[A-Z_]+)'/g)].map((m) => m[1]!))]
  t.ok(names.length >= 15, `read ${names.length} names`)
  // Blank counts as unset, so every name can be present without being valid.
  t.same(loadConfig(Object.fromEntries(names.map((name) => [name, '']))).unknownVariables, [])
  t.same(loadConfig({}).unknownVariables, [], 'an empty environment')
})

t.test('edit distance', async (t) => {
  t.equal(editDistance('kitten', 'sitting'), 3)
  t.equal(editDistance('', 'abc'), 3)
  t.equal(editDistance('abc', ''), 3)
  t.equal(editDistance('same', 'same'), 0)
  t.equal(editDistance('WALCAST_RETENSION', 'WALCAST_RETENTION'), 1)
  t.equal(closestName('WALCAST_PROT', ['WALCAST_HOST', 'WALCAST_PORT']), 'WALCAST_PORT', 'a transposition costs 2, still the closest')
  t.equal(closestName('AB', ['XB', 'AX']), 'XB', 'the first of equals')
  t.equal(closestName('A', []), undefined)
})
