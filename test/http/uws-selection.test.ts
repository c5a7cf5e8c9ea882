import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { compareVersions, currentRuntime, selectUws, UWS_BUILDS, type Loader, type Runtime } from '../../src/http/uws.ts'
import { createTestDatabase } from '../helpers/db.ts'
import { childEnv, spawnWalcast } from '../helpers/spawn.ts'

const node22: Runtime = { platform: 'linux', arch: 'x64', abi: '127', node: 'v22.12.0', libc: 'glibc 2.41' }

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

// The binaries each real package ships, read from node_modules (both are installed: the
// second is an optional dependency of files only), so the table below tests the names
// the packages really use.
const TRUFFLE = 'uWebSockets.js'
const BTC = '@btc-vision/uwebsockets.js'
function shipped(pkg: string, sub: string): Record<string, () => unknown> {
  const dir = path.join('node_modules', pkg, sub)
  return Object.fromEntries(fs.readdirSync(dir).filter((f) => f.endsWith('.node')).map((f) => [path.join(sub, f), () => native]))
}
const real = { [TRUFFLE]: shipped(TRUFFLE, 'binaries'), [BTC]: shipped(BTC, '') }

t.test('the packages ship the binaries the table assumes', async (t) => {
  t.ok(real[TRUFFLE]!['binaries/uws_linux_x64_115.node'] && !real[TRUFFLE]!['binaries/uws_linux_x64_127.node'], 'uWebSockets.js: Node 20, not 22')
  for (const abi of ['115', '127', '137', '141']) t.ok(real[BTC]![`uws_linux_x64_${abi}.node`], `${BTC}: module ABI ${abi}`)
})

t.test('which build runs where: Node 20/22/24, glibc 2.36/2.38/2.41, musl, macOS, Windows, with and without each package', async (t) => {
  const rt = (node: string, abi: string, libc: string | undefined, platform = 'linux', arch = 'x64'): Runtime => ({ platform, arch, abi, node, libc })
  const both = real
  const onlyTruffle = { [TRUFFLE]: real[TRUFFLE]! }
  const onlyBtc = { [BTC]: real[BTC]! }
  const cases: Array<[string, Runtime, Record<string, Record<string, () => unknown>>, string | RegExp]> = [
    ['Node 20, glibc 2.36 (these machines)', rt('v20.20.0', '115', 'glibc 2.36'), both, TRUFFLE],
    ['Node 20, glibc 2.36, only the optional build', rt('v20.20.0', '115', 'glibc 2.36'), onlyBtc, /uWebSockets\.js: not installed; @btc-vision\/uwebsockets\.js: needs glibc >= 2\.38, this system has 2\.36$/],
    ['Node 20, glibc 2.41', rt('v20.20.0', '115', 'glibc 2.41'), both, TRUFFLE],
    ['Node 20 on linux-arm (32-bit)', rt('v20.20.0', '115', 'glibc 2.36', 'linux', 'arm'), both, TRUFFLE],
    ['Node 22, glibc 2.36', rt('v22.12.0', '127', 'glibc 2.36'), both, /uWebSockets\.js: no binary for linux-x64, module ABI 127; @btc-vision\/uwebsockets\.js: needs glibc >= 2\.38, this system has 2\.36$/],
    ['Node 22, glibc 2.38', rt('v22.12.0', '127', 'glibc 2.38'), both, BTC],
    ['Node 22, glibc 2.41, without the optional build', rt('v22.12.0', '127', 'glibc 2.41'), onlyTruffle, /uWebSockets\.js: no binary for linux-x64, module ABI 127; @btc-vision\/uwebsockets\.js: not installed$/],
    ['Node 24, glibc 2.41 (the Docker image)', rt('v24.11.0', '137', 'glibc 2.41'), both, BTC],
    ['Node 24, glibc 2.41, arm64', rt('v24.11.0', '137', 'glibc 2.41', 'linux', 'arm64'), both, BTC],
    ['Node 24, glibc 2.36', rt('v24.11.0', '137', 'glibc 2.36'), both, /\(linux-x64, glibc 2\.36, module ABI 137\).*needs glibc >= 2\.38, this system has 2\.36$/],
    ['Node 20 on musl (Alpine)', rt('v20.20.0', '115', 'musl'), both, /\(linux-x64, musl, module ABI 115\): uWebSockets\.js: needs glibc, this system has musl; @btc-vision\/uwebsockets\.js: needs glibc, this system has musl$/],
    ['Node 24 on musl (Alpine)', rt('v24.11.0', '137', 'musl'), both, /uWebSockets\.js: no binary for linux-x64, module ABI 137; @btc-vision\/uwebsockets\.js: needs glibc, this system has musl$/],
    ['Node 20 on macOS', rt('v20.20.0', '115', undefined, 'darwin', 'arm64'), both, TRUFFLE],
    ['Node 24 on macOS', rt('v24.11.0', '137', undefined, 'darwin', 'arm64'), both, BTC],
    ['Node 22 on Windows', rt('v22.12.0', '127', undefined, 'win32', 'x64'), both, BTC],
    ['Node 26 (no build has its ABI yet)', rt('v26.0.0', '147', 'glibc 2.41'), both, /\(linux-x64, glibc 2\.41, module ABI 147\): uWebSockets\.js: no binary for linux-x64, module ABI 147; @btc-vision\/uwebsockets\.js: no binary for linux-x64, module ABI 147$/],
    ['nothing installed', rt('v20.20.0', '115', 'glibc 2.36'), {}, /uWebSockets\.js: not installed; @btc-vision\/uwebsockets\.js: not installed$/],
  ]
  for (const [name, runtime, installed, expected] of cases) {
    const loader = fakeLoader(installed)
    if (typeof expected === 'string') {
      t.equal(selectUws(runtime, UWS_BUILDS, loader).build, expected, `${name}: ${expected}`)
      t.equal(loader.loaded.length, 1, `${name}: one binary required, directly (never the package's loader with its fallback)`)
    } else {
      t.throws(() => selectUws(runtime, UWS_BUILDS, loader), { code: 'RUNTIME_UNSUPPORTED', message: expected }, `${name}: refused`)
      t.same(loader.loaded, [], `${name}: no binary was loaded`)
    }
  }
})

t.test('the refusal names the running Node and platform and says what is supported', async (t) => {
  t.throws(() => selectUws(node22, UWS_BUILDS, fakeLoader({ [TRUFFLE]: real[TRUFFLE]! })), {
    message: /^no native uWebSockets\.js build loads on Node v22\.12\.0 \(linux-x64, glibc 2\.41, module ABI 127\): /,
    hint: /^walcast runs on Node 16, 18, 20 \(uWebSockets\.js, the dependency\), or Node 20, 22, 24, 25 with glibc >= 2\.38 on Linux .*Linux needs glibc \(not musl\).*docs\/operations\.md#runtime$/,
  })
  const mac: Runtime = { platform: 'darwin', arch: 'arm64', abi: '147', node: 'v26.0.0', libc: undefined }
  t.throws(() => selectUws(mac, UWS_BUILDS, fakeLoader({})), { message: /on Node v26\.0\.0 \(darwin-arm64, module ABI 147\)/ }, 'no C library named off Linux')
})

t.test('a binary that does not load, or is not uWS, is passed over', async (t) => {
  const broken = fakeLoader({
    [TRUFFLE]: {},
    [BTC]: { 'uws_linux_x64_127.node': () => { throw new Error('/lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.39\' not found\n(required by …)') } },
  })
  t.throws(() => selectUws(node22, UWS_BUILDS, broken), { message: /@btc-vision\/uwebsockets\.js: does not load: .*GLIBC_2\.39' not found$/ })
  const notUws = fakeLoader({ [TRUFFLE]: { 'binaries/uws_linux_x64_127.node': () => ({}) } })
  t.throws(() => selectUws(node22, UWS_BUILDS, notUws), { message: /uWebSockets\.js: does not load: not a uWebSockets\.js binary/ }, 'a file that is not uWS is refused too')
  const first = fakeLoader({ [TRUFFLE]: { 'binaries/uws_linux_x64_127.node': () => native }, [BTC]: { 'uws_linux_x64_127.node': () => native } })
  t.equal(selectUws(node22, UWS_BUILDS, first).build, TRUFFLE, 'the tested build first when it has a binary')
})

t.test('glibc versions compare numerically', async (t) => {
  t.same([compareVersions('2.36', '2.38'), compareVersions('2.38', '2.38'), compareVersions('2.41', '2.38'), compareVersions('2.100', '2.38'), compareVersions('3', '2.38'), compareVersions('2.38.1', '2.38')], [-1, 0, 1, 1, 1, 1])
})

t.test('on this machine the bundled native build is selected; the optional one is refused for its glibc', async (t) => {
  const runtime = currentRuntime()
  const { build, uws } = selectUws(runtime)
  t.equal(build, TRUFFLE)
  t.type((uws as unknown as { getParts?: unknown }).getParts, 'function', 'the native binding (the JavaScript fallback has no getParts)')
  t.match(runtime.libc, /^glibc \d+\.\d+$/, 'glibc read from process.report')
  const btcOnly = UWS_BUILDS.filter((b) => b.package === BTC)
  if (compareVersions(runtime.libc!.slice(6), '2.38') < 0) {
    t.throws(() => selectUws(runtime, btcOnly), { message: /@btc-vision\/uwebsockets\.js: needs glibc >= 2\.38, this system has 2\.\d+$/ }, 'the optional build passed over by its declared glibc')
    // The declared minimum is not too low: told the system were new enough, the real
    // binary fails to load on this glibc.
    t.throws(() => selectUws({ ...runtime, libc: 'glibc 2.38', abi: runtime.abi }, btcOnly), { message: /does not load: .*GLIBC_2\.38' not found/ })
  } else {
    t.equal(selectUws(runtime, btcOnly).build, BTC, 'glibc >= 2.38 here: the optional build loads')
  }
})

t.test('walcast serve on a Node.js with no native build refuses at once, with one clear message', async (t) => {
  const tdb = await createTestDatabase(t)
  const child = spawnWalcast(['serve'], childEnv(tdb), { nodeArgs: ['--import', path.resolve('test/http/runtime.other-node-abi.mjs')] })
  t.teardown(() => child.kill('SIGKILL'))
  t.equal(await child.exited, 1, 'exit 1')
  t.match(child.stderr(), /^walcast: RUNTIME_UNSUPPORTED: no native uWebSockets\.js build loads on Node v\d+\.\d+\.\d+ \(linux-x64, glibc \d+\.\d+, module ABI 999\): uWebSockets\.js: no binary for linux-x64, module ABI 999; @btc-vision\/uwebsockets\.js: no binary/m)
  t.match(child.stderr(), /^hint: walcast runs on Node 16, 18, 20/m)
  t.equal(child.stderr().trim().split('\n').length, 2, 'one line and its hint')
  t.notMatch(child.stdout(), /http listening|replication streaming/, 'nothing was started')
})
