import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import type uWSModule from 'uWebSockets.js'
import { StartupError } from '../errors.ts'

export type Uws = typeof uWSModule

/** What decides which native build loads: the platform, the CPU, Node's module ABI and the C library. */
export interface Runtime {
  readonly platform: string
  readonly arch: string
  /** process.versions.modules: 115 is Node 20, 127 Node 22, 137 Node 24, 141 Node 25. */
  readonly abi: string
  readonly node: string
  /**
   * Linux only: `glibc 2.36`, or `musl` where Node reports no glibc; undefined elsewhere.
   * Read on first use, once a build has a binary for this runtime (process.report, about
   * 20 ms), never off Linux.
   */
  readonly libc: string | undefined
}

/** A uWebSockets.js build walcast can run on: its npm package and where its binaries lie. */
export interface UwsBuild {
  readonly package: string
  /** The native binary for `runtime`, relative to the package's directory. */
  binary(runtime: Runtime): string
  /** The oldest glibc its Linux binaries link against (their newest GLIBC_ symbol version). */
  readonly minGlibc: string
  /** What it runs on, for the refusal's hint and docs/operations.md#runtime. */
  readonly supports: string
}

/**
 * The builds walcast knows, in order of preference. The first (the dependency walcast
 * is tested with) ships binaries for Node 16, 18 and 20; the second (an optional
 * dependency, which is only files) ships Node 20-25 binaries that need glibc 2.38 or
 * newer. Each binary is required directly: the packages' own loaders fall back to a
 * JavaScript implementation with other backpressure semantics on a runtime they have no
 * binary for, and walcast must never run on that (its 4008 and replay pacing rely on
 * uWS's buffers).
 */
export const UWS_BUILDS: readonly UwsBuild[] = [
  {
    package: 'uWebSockets.js',
    binary: (rt) => path.join('binaries', `uws_${rt.platform}_${rt.arch}_${rt.abi}.node`),
    minGlibc: '2.27',
    supports: 'Node 16, 18, 20 (uWebSockets.js, the dependency)',
  },
  {
    package: '@btc-vision/uwebsockets.js',
    binary: (rt) => `uws_${rt.platform}_${rt.arch}_${rt.abi}.node`,
    minGlibc: '2.38',
    supports: 'Node 20, 22, 24, 25 with glibc >= 2.38 on Linux (@btc-vision/uwebsockets.js, an optional dependency)',
  },
]

export interface LoadAttempt {
  readonly package: string
  readonly outcome: string
}

export interface Loader {
  /** The package's directory, or undefined when it is not installed. */
  packageDir(name: string): string | undefined
  exists(file: string): boolean
  load(file: string): unknown
}

const require = createRequire(import.meta.url)

const nodeLoader: Loader = {
  packageDir(name) {
    try {
      return path.dirname(require.resolve(`${name}/package.json`))
    } catch {
      try {
        // A package whose exports hide package.json: walk up from its main file.
        let dir = path.dirname(require.resolve(name))
        while (!fs.existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir)
        return dir
      } catch {
        return undefined
      }
    }
  },
  exists: (file) => fs.existsSync(file),
  load: (file) => require(file),
}

function detectLibc(): string | undefined {
  if (process.platform !== 'linux') return undefined
  const header = (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header
  return header?.glibcVersionRuntime === undefined ? 'musl' : `glibc ${header.glibcVersionRuntime}`
}

export function currentRuntime(): Runtime {
  let libc: string | undefined | null = null
  return {
    platform: process.platform,
    arch: process.arch,
    abi: process.versions.modules,
    node: process.version,
    get libc() {
      if (libc === null) libc = detectLibc()
      return libc
    },
  }
}

/** -1, 0 or 1 as dotted version a is older than, equal to or newer than b. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number)
  const pb = b.split('.').map(Number)
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0)
    if (d !== 0) return Math.sign(d)
  }
  return 0
}

/** Why `build` cannot run on this C library, or undefined when it can (or it is not Linux). */
function libcMismatch(build: UwsBuild, runtime: Runtime): string | undefined {
  if (runtime.platform !== 'linux') return undefined
  const libc = runtime.libc
  if (libc === undefined || !libc.startsWith('glibc ')) return `needs glibc, this system has ${libc ?? 'another C library'}`
  const version = libc.slice('glibc '.length)
  return compareVersions(version, build.minGlibc) < 0 ? `needs glibc >= ${build.minGlibc}, this system has ${version}` : undefined
}

/** The first build with a native binary that loads on `runtime`; throws RUNTIME_UNSUPPORTED otherwise. */
export function selectUws(runtime: Runtime, builds: readonly UwsBuild[] = UWS_BUILDS, loader: Loader = nodeLoader): { build: string; uws: Uws } {
  const attempts: LoadAttempt[] = []
  for (const build of builds) {
    const dir = loader.packageDir(build.package)
    if (dir === undefined) {
      attempts.push({ package: build.package, outcome: 'not installed' })
      continue
    }
    const file = path.join(dir, build.binary(runtime))
    if (!loader.exists(file)) {
      attempts.push({ package: build.package, outcome: `no binary for ${runtime.platform}-${runtime.arch}, module ABI ${runtime.abi}` })
      continue
    }
    // Checked before loading: a binary linked against a newer glibc fails to load with
    // a loader message that names a symbol version, not the system's.
    const mismatch = libcMismatch(build, runtime)
    if (mismatch !== undefined) {
      attempts.push({ package: build.package, outcome: mismatch })
      continue
    }
    try {
      const uws = loader.load(file) as Uws
      if (typeof uws?.App !== 'function') throw new Error('not a uWebSockets.js binary')
      return { build: build.package, uws }
    } catch (err) {
      attempts.push({ package: build.package, outcome: `does not load: ${(err as Error).message.split('\n')[0]}` })
    }
  }
  const where = [`${runtime.platform}-${runtime.arch}`, runtime.platform === 'linux' ? runtime.libc ?? 'unknown libc' : undefined, `module ABI ${runtime.abi}`].filter((part) => part !== undefined).join(', ')
  throw new StartupError('RUNTIME_UNSUPPORTED', `no native uWebSockets.js build loads on Node ${runtime.node} (${where}): ${attempts.map((a) => `${a.package}: ${a.outcome}`).join('; ')}`, {
    hint: `walcast runs on ${builds.map((b) => b.supports).join(', or ')}; Linux needs glibc (not musl); the Docker image runs Node 24 on Debian 13. See docs/operations.md#runtime`,
  })
}

let selected: { build: string; uws: Uws } | undefined

/** The native uWebSockets.js for this process (selected once). */
export function nativeUws(): Uws {
  selected ??= selectUws(currentRuntime())
  return selected.uws
}

/** Which package the native build came from (for the start-up log). */
export function uwsBuild(): string {
  nativeUws()
  return selected!.build
}
