// The compiled walcast (#15 item 6): `npm run build` (npm install's `prepare`) writes
// dist/, bin/walcast.js runs it on plain node, and applications import the SDK as
// compiled ESM with type declarations. Every test here runs the build's output, never the
// TypeScript sources, in processes without tsx.
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { createTestDatabase } from '../helpers/db.ts'
import { seedEscrow } from '../helpers/escrow-fixture.ts'
import { childEnv, spawnWalcast } from '../helpers/spawn.ts'
import { TEST_JWT_SECRET, signToken } from '../helpers/tokens.ts'
import { waitFor } from '../helpers/wait.ts'
import { connectWs } from '../helpers/ws-client.ts'

const run = promisify(execFile)
const ROOT = path.resolve('.')
const TSC = path.join(ROOT, 'node_modules/typescript/bin/tsc')

/** Node with none of the test runner's loaders or coverage hooks: what a user runs. */
function plainNode(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (key === 'NODE_OPTIONS' || key === 'NODE_V8_COVERAGE' || key.startsWith('TAP') || key.startsWith('_TAPJS')) continue
    env[key] = value
  }
  env._TAPJS_PROCESSINFO_COVERAGE_ = '0'
  return env
}

const listing = (dir: string): string[] => fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort()

// `npm test` builds before any test file runs (the bench smoke test runs dist/ too, so
// no test rebuilds it under another's feet); a test run on its own needs `npm run build`.
t.test('dist/ is the build of these sources', async (t) => {
  const stale = listing('src').filter((f) => f.endsWith('.ts') && (!fs.existsSync(path.join('dist', f.replace(/\.ts$/, '.js'))) || fs.statSync(path.join('dist', f.replace(/\.ts$/, '.js'))).mtimeMs < fs.statSync(path.join('src', f)).mtimeMs))
  t.same(stale, [], 'no source newer than its compiled module (run `npm run build`)')
})

t.test('the build mirrors src/ as JavaScript, with the catalogs\' SQL and the SDK\'s declarations', async (t) => {
  const dist = listing('dist')
  const sources = listing('src').filter((f) => f.endsWith('.ts'))
  t.same(sources.filter((f) => !dist.includes(f.replace(/\.ts$/, '.js'))), [], 'one module per source file, at the same path')
  t.same(dist.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')), [], 'no TypeScript source in dist/')
  t.same(listing('src').filter((f) => f.endsWith('.sql')).filter((f) => !dist.includes(f)), [], 'every catalog schema.sql beside its module')
  for (const entry of ['client/index.d.ts', 'catalog/index.d.ts']) t.ok(dist.includes(entry), `${entry} declared`)
  const compiled = fs.readFileSync('dist/catalog/loader.js', 'utf8')
  t.match(compiled, /from "\.\/builtin\.js"/, 'relative imports point at the compiled modules')
  t.notMatch(compiled, /from "[^"]*\.ts"/, 'no import of a .ts file left')
  const ignored = await run('git', ['check-ignore', 'dist/cli/run.js'], { cwd: ROOT })
  t.equal(ignored.stdout.trim(), 'dist/cli/run.js', 'dist/ is git-ignored')
})

t.test('`walcast --help` from the build, and a clear refusal when nothing is built', async (t) => {
  const help = await run(process.execPath, ['bin/walcast.js', '--help'], { env: plainNode(), cwd: ROOT })
  t.match(help.stdout, /^Usage: walcast \[command\]/m)
  // A copy of bin/ with no dist/ beside it: what a checkout looks like before `npm run build`.
  const bare = fs.mkdtempSync(path.join(os.tmpdir(), 'walcast-unbuilt-'))
  t.teardown(() => fs.rmSync(bare, { recursive: true, force: true }))
  fs.mkdirSync(path.join(bare, 'bin'))
  fs.copyFileSync('bin/walcast.js', path.join(bare, 'bin/walcast.js'))
  fs.writeFileSync(path.join(bare, 'package.json'), '{"type":"module"}')
  const refused = await run(process.execPath, [path.join(bare, 'bin/walcast.js'), '--help'], { env: plainNode() }).then(() => undefined, (err: { code: number; stderr: string }) => err)
  t.equal(refused?.code, 1, 'exit 1')
  t.match(refused?.stderr, /^walcast: NOT_BUILT: .*\nhint: run `npm run build`/)
})

t.test('`walcast serve` from the build: ready, a WebSocket client gets its event, the dashboard and the browser SDK are served', async (t) => {
  const tdb = await createTestDatabase(t)
  await seedEscrow(tdb, [[1, 'Ada', 'buyer']])
  const walcast = spawnWalcast(['serve'], childEnv(tdb, { WALCAST_JWT_SECRET: TEST_JWT_SECRET, WALCAST_DEV: '1' }), { built: true })
  t.teardown(() => { if (walcast.child.exitCode === null) walcast.kill('SIGKILL') })
  t.teardown(() => { if (walcast.child.exitCode !== 0) t.comment(walcast.stdout().slice(-2000), walcast.stderr().slice(-2000)) })
  const port = await waitFor(() => {
    const line = walcast.stdout().split('\n').find((l) => l.includes('"http listening"'))
    return line === undefined ? undefined : (JSON.parse(line) as { port: number }).port
  }, 60_000, 'the built walcast to listen')
  const base = `http://127.0.0.1:${port}`
  await waitFor(async () => (await fetch(`${base}/readyz`)).status === 200, 30_000, '/readyz 200')

  const client = await connectWs(t, port, await signToken('1'))
  t.equal((await client.subscribeAndWait('user:1')).op, 'subscribed')
  await tdb.query(`INSERT INTO notifications (user_id, kind, title) VALUES (1, 'info', 'from the build')`)
  const event = await client.next((f) => f.op === 'event', 15_000)
  t.match(event, { op: 'event', topic: 'user:1', type: 'notification:new' }, 'a committed row reaches the client')

  const page = await fetch(`${base}/`)
  t.equal(page.status, 200)
  t.match(await page.text(), /<html/i, 'the dashboard page (web/ found from dist/)')
  const sdk = await fetch(`${base}/dashboard/walcast-client.js`)
  t.equal(sdk.status, 200)
  t.match(await sdk.text(), /createClient/, 'the browser SDK bundled from the compiled client')

  walcast.kill('SIGTERM')
  t.equal(await walcast.exited, 0, 'a clean exit')
})

t.test('the built walcast refuses a Node.js with no native uWS build, as the sources do', async (t) => {
  const tdb = await createTestDatabase(t)
  const child = spawnWalcast(['serve'], childEnv(tdb), { built: true, nodeArgs: ['--import', path.resolve('test/http/runtime.other-node-abi.mjs')] })
  t.teardown(() => { if (child.child.exitCode === null) child.kill('SIGKILL') })
  t.equal(await child.exited, 1, 'exit 1')
  t.match(child.stderr(), /^walcast: RUNTIME_UNSUPPORTED: no native uWebSockets\.js build loads on Node v[\d.]+ \(linux-x64, glibc [\d.]+, module ABI 999\)/)
  t.notMatch(child.stdout(), /http listening/, 'nothing was served')
})

t.test('the built CLI still loads a TypeScript catalog module (WALCAST_CATALOG=<file>.ts)', async (t) => {
  const tdb = await createTestDatabase(t, { prepared: false })
  const migrate = spawnWalcast(['migrate'], childEnv(tdb, { WALCAST_CATALOG: 'test/fixtures/catalog-projects.ts' }), { built: true })
  t.equal(await migrate.exited, 0, `migrate exits 0 ${migrate.stderr().slice(-500)}`)
  const tables = await tdb.query<{ n: string }>(`SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'app' AND tablename IN ('projects', 'project_members', 'tasks')`)
  t.equal(Number(tables.rows[0]!.n), 3, 'the catalog\'s schema was applied')
})

t.test('an application imports walcast/client and walcast/catalog as compiled ESM, with types', async (t) => {
  // The package as npm would publish it (package.json "files"), unpacked into a fresh
  // application's node_modules: only what the tarball holds is there.
  const app = fs.mkdtempSync(path.join(os.tmpdir(), 'walcast-consumer-'))
  t.teardown(() => fs.rmSync(app, { recursive: true, force: true }))
  const packed = await run('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', app], { env: plainNode(), cwd: ROOT })
  const pkg = path.join(app, 'node_modules/walcast')
  fs.mkdirSync(pkg, { recursive: true })
  await run('tar', ['xzf', path.join(app, packed.stdout.trim().split('\n').at(-1)!), '-C', pkg, '--strip-components=1'])
  t.notOk(fs.existsSync(path.join(pkg, 'src')), 'no TypeScript sources shipped')
  // What npm would install with it: walcast's own dependencies (never its dev ones), and
  // the application's @types/node.
  const manifest = JSON.parse(fs.readFileSync(path.join(pkg, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; optionalDependencies?: Record<string, string> }
  for (const name of Object.keys({ ...manifest.dependencies, ...manifest.optionalDependencies })) {
    if (!fs.existsSync(path.join(ROOT, 'node_modules', name))) continue
    fs.mkdirSync(path.dirname(path.join(pkg, 'node_modules', name)), { recursive: true })
    fs.symlinkSync(path.join(ROOT, 'node_modules', name), path.join(pkg, 'node_modules', name))
  }
  fs.mkdirSync(path.join(app, 'node_modules/@types'))
  fs.symlinkSync(path.join(ROOT, 'node_modules/@types/node'), path.join(app, 'node_modules/@types/node'))

  fs.writeFileSync(path.join(app, 'package.json'), '{"type":"module"}')
  fs.writeFileSync(path.join(app, 'app.js'), [
    "import { createClient, backoffDelay } from 'walcast/client'",
    "import { defineCatalog, changed } from 'walcast/catalog'",
    "const client = createClient({ url: 'http://127.0.0.1:9', token: 't', transports: ['polling'] })",
    "console.log(JSON.stringify({ createClient: typeof createClient, backoff: typeof backoffDelay, defineCatalog: typeof defineCatalog, changed: typeof changed, status: client.status }))",
    'client.close()',
  ].join('\n'))
  const out = await run(process.execPath, ['app.js'], { env: plainNode(), cwd: app })
  t.match(JSON.parse(out.stdout) as object, { createClient: 'function', backoff: 'function', defineCatalog: 'function', changed: 'function' }, 'plain node runs both entry points')

  fs.writeFileSync(path.join(app, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', lib: ['ES2023', 'DOM'], strict: true, noEmit: true, skipLibCheck: false, types: ['node'] },
    files: ['app.ts', 'wrong.ts'],
  }))
  const typed = [
    "import { createClient, type WalcastEvent } from 'walcast/client'",
    "import { defineCatalog, type Catalog } from 'walcast/catalog'",
    "const client = createClient({ url: 'http://127.0.0.1:9', token: 't' })",
    'client.subscribe(\'user:1\', (event: WalcastEvent) => { const id: string = event.id; void id })',
    'const catalog: Catalog | undefined = undefined as unknown as ReturnType<typeof defineCatalog>',
    'void catalog',
  ]
  fs.writeFileSync(path.join(app, 'app.ts'), typed.join('\n'))
  // The types are real, not `any`: a wrong use beside it is an error (one tsc run for both).
  fs.writeFileSync(path.join(app, 'wrong.ts'), "import { createClient } from 'walcast/client'\nexport const wrong: number = createClient\n")
  const checked = await run(process.execPath, [TSC, '-p', '.'], { env: plainNode(), cwd: app }).then((r) => r.stdout, (err: { stdout: string }) => err.stdout)
  t.same(checked.split('\n').filter((line) => /error TS/.test(line)).map((line) => line.replace(/\(.*/, '')), ['wrong.ts'], `only the wrong use is refused: the declarations resolve, with walcast's dependencies only\n${checked}`)
})
