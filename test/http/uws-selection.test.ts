import path from 'node:path'
import t from 'tap'
import { currentRuntime, selectUws, UWS_BUILDS, type Loader, type Runtime } from '../../src/http/uws.ts'
import { createTestDatabase } from '../helpers/db.ts'
import { childEnv, spawnWalcast } from '../helpers/spawn.ts'

const node22: Runtime = { platform: 'linux', arch: 'x64', abi: '127', node: 'v22.12.0' }

/** A fake file system of installed packages: dir → the binaries in it (and what loading one does). */
function fakeLoader(installed: Record<string, Record<string, () => unknown>>): Loader & { loaded: string[] } {
  const loaded: string[] = []
  const files = new Map<string, () => unknown>()
  for (const [pkg, binaries] of Object.entries(installed)) for (const [file, load] of Object.entries(binaries)) files.set(path.join('/nm', pkg, file), load)
  return {
    loaded,
    packageDir: (name) => (name in installed ? path.join('/nm', name) : undefined),
    exists: (file) => files.has(file),
    load(file) {
      loaded.push(file)
      return files.get(file)!()
    },
  }
}
const native = { App: () => ({}) }

t.test('the first build with a binary for this runtime that loads is selected', async (t) => {
  const onlySecond = fakeLoader({
    'uWebSockets.js': { 'binaries/uws_linux_x64_115.node': () => native },
    '@btc-vision/uwebsockets.js': { 'uws_linux_x64_127.node': () => native },
  })
  t.equal(selectUws(node22, UWS_BUILDS, onlySecond).build, '@btc-vision/uwebsockets.js', 'Node 22: the bundled build has no binary, the second does')
  t.same(onlySecond.loaded, ['/nm/@btc-vision/uwebsockets.js/uws_linux_x64_127.node'], 'the binary is required directly, never the package\'s loader with its fallback')
  const both = fakeLoader({
    'uWebSockets.js': { 'binaries/uws_linux_x64_127.node': () => native },
    '@btc-vision/uwebsockets.js': { 'uws_linux_x64_127.node': () => native },
  })
  t.equal(selectUws(node22, UWS_BUILDS, both).build, 'uWebSockets.js', 'the tested build first when it has a binary')
})

t.test('a binary that does not load (glibc too old) is passed over; with none left walcast refuses with every reason', async (t) => {
  const oldGlibc = fakeLoader({
    'uWebSockets.js': {},
    '@btc-vision/uwebsockets.js': { 'uws_linux_x64_127.node': () => { throw new Error('/lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.38\' not found\n(required by …)') } },
  })
  t.throws(() => selectUws(node22, UWS_BUILDS, oldGlibc), {
    code: 'RUNTIME_UNSUPPORTED',
    message: /Node v22\.12\.0 \(linux-x64, module ABI 127\): uWebSockets\.js: no binary for linux-x64, module ABI 127; @btc-vision\/uwebsockets\.js: does not load: .*GLIBC_2\.38/,
    hint: /Node 20.*glibc >= 2\.38/,
  })
  t.throws(() => selectUws(node22, UWS_BUILDS, fakeLoader({})), { message: /uWebSockets\.js: not installed; @btc-vision\/uwebsockets\.js: not installed/ })
  t.throws(() => selectUws(node22, UWS_BUILDS, fakeLoader({ 'uWebSockets.js': { 'binaries/uws_linux_x64_127.node': () => ({}) } })), { message: /not a uWebSockets\.js binary/ }, 'a file that is not uWS is refused too')
})

t.test('on this machine the bundled native build is selected', async (t) => {
  const { build, uws } = selectUws(currentRuntime())
  t.equal(build, 'uWebSockets.js')
  t.type((uws as unknown as { getParts?: unknown }).getParts, 'function', 'the native binding (the JavaScript fallback has no getParts)')
})

t.test('walcast serve on a Node.js with no native build refuses at once, with one clear message', async (t) => {
  const tdb = await createTestDatabase(t)
  const child = spawnWalcast(['serve'], childEnv(tdb), { nodeArgs: ['--import', path.resolve('test/http/runtime.other-node-abi.mjs')] })
  t.teardown(() => child.kill('SIGKILL'))
  t.equal(await child.exited, 1, 'exit 1')
  t.match(child.stderr(), /^walcast: RUNTIME_UNSUPPORTED: no native uWebSockets\.js build loads on Node v\d+\.\d+\.\d+ \(linux-x64, module ABI 999\)/m)
  t.match(child.stderr(), /^hint: run walcast on Node 20/m)
  t.notMatch(child.stdout(), /http listening|replication streaming/, 'nothing was started')
})
