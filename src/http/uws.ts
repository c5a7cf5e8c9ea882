import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import type uWSModule from 'uWebSockets.js'
import { StartupError } from '../errors.ts'

export type Uws = typeof uWSModule

/** What decides which native build loads: the platform, the CPU and Node's module ABI. */
export interface Runtime {
  readonly platform: string
  readonly arch: string
  /** process.versions.modules: 115 is Node 20, 127 Node 22, 137 Node 24. */
  readonly abi: string
  readonly node: string
}

/** A uWebSockets.js build walcast can run on: its npm package and where its binaries lie. */
export interface UwsBuild {
  readonly package: string
  /** The native binary for `runtime`, relative to the package's directory. */
  binary(runtime: Runtime): string
}

/**
 * The builds walcast knows, in order of preference. The first (the dependency walcast
 * is tested with) ships binaries for Node 16, 18 and 20; the second, installed by the
 * Docker image for a current LTS, ships Node 20-24 binaries that need glibc 2.38 or newer.
 * Each binary is required directly: the packages' own loaders fall back to a JavaScript
 * implementation with other backpressure semantics on a runtime they have no binary for,
 * and walcast must never run on that (its 4008 and replay pacing rely on uWS's buffers).
 */
export const UWS_BUILDS: readonly UwsBuild[] = [
  { package: 'uWebSockets.js', binary: (rt) => path.join('binaries', `uws_${rt.platform}_${rt.arch}_${rt.abi}.node`) },
  { package: '@btc-vision/uwebsockets.js', binary: (rt) => `uws_${rt.platform}_${rt.arch}_${rt.abi}.node` },
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

export const currentRuntime = (): Runtime => ({ platform: process.platform, arch: process.arch, abi: process.versions.modules, node: process.version })

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
    try {
      const uws = loader.load(file) as Uws
      if (typeof uws?.App !== 'function') throw new Error('not a uWebSockets.js binary')
      return { build: build.package, uws }
    } catch (err) {
      // Typically "GLIBC_2.38 not found": a build newer than this system's C library.
      attempts.push({ package: build.package, outcome: `does not load: ${(err as Error).message.split('\n')[0]}` })
    }
  }
  throw new StartupError('RUNTIME_UNSUPPORTED', `no native uWebSockets.js build loads on Node ${runtime.node} (${runtime.platform}-${runtime.arch}, module ABI ${runtime.abi}): ${attempts.map((a) => `${a.package}: ${a.outcome}`).join('; ')}`, {
    hint: 'run walcast on Node 20 (any glibc), or on Node 22/24 with glibc >= 2.38 and `npm install @btc-vision/uwebsockets.js` (the Docker image does); see docs/operations.md#runtime',
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
