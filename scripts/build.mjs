#!/usr/bin/env node
// Compiles src/ to dist/ (ES modules, one file per source file, the same tree) so walcast
// runs on plain node: no TypeScript compiler in the process at every start. Plain
// JavaScript itself, so it runs before anything is built (npm's `prepare`).
//
//   node scripts/build.mjs            JavaScript, the catalogs' SQL, and the SDK's type declarations
//   node scripts/build.mjs --js-only  JavaScript and SQL (what `npm start` and the bench refresh)
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import * as esbuild from 'esbuild'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const SRC = path.join(ROOT, 'src')
const DIST = path.join(ROOT, 'dist')
const jsOnly = process.argv.includes('--js-only')

/** Every file under `dir` whose name passes `keep`, as absolute paths. */
function filesUnder(dir, keep) {
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && keep(entry.name))
    .map((entry) => path.join(entry.parentPath ?? entry.path, entry.name))
}

// Each file compiled on its own, never bundled: dist/ mirrors src/ at the same depth, so
// every `new URL('../../sql/', import.meta.url)` (migrations, web/, a catalog's schema.sql)
// finds the same file from dist/ as from src/. Imports stay imports; relative ones are
// renamed .ts → .js, packages are left to node_modules.
const keepImports = {
  name: 'keep-imports',
  setup(build) {
    build.onResolve({ filter: /.*/ }, (args) => {
      if (args.kind === 'entry-point') return undefined
      if (/^\.\.?\//.test(args.path)) return { path: args.path.replace(/\.ts$/, '.js'), external: true }
      return { path: args.path, external: true }
    })
  },
}

const started = performance.now()
// A full build starts afresh (no module of a deleted source left behind); --js-only
// overwrites in place and keeps the declarations.
if (!jsOnly) fs.rmSync(DIST, { recursive: true, force: true })
const sources = filesUnder(SRC, (name) => name.endsWith('.ts') && !name.endsWith('.d.ts'))
await esbuild.build({
  entryPoints: sources,
  outdir: DIST,
  outbase: SRC,
  bundle: true,
  plugins: [keepImports],
  format: 'esm',
  platform: 'node',
  target: 'node20',
  logLevel: 'warning',
})
for (const file of filesUnder(SRC, (name) => name.endsWith('.sql'))) {
  const target = path.join(DIST, path.relative(SRC, file))
  fs.mkdirSync(path.dirname(target), { recursive: true })
  fs.copyFileSync(file, target)
}

let declarations = 'skipped (--js-only)'
if (!jsOnly) {
  // The SDK's declarations (walcast/client, walcast/catalog) come from tsc, a dev
  // dependency: an install without dev dependencies (a production image) runs the server
  // and needs none.
  let tsc
  try {
    tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
  } catch {
    declarations = 'skipped (typescript is not installed)'
  }
  if (tsc !== undefined) {
    execFileSync(process.execPath, [tsc, '-p', path.join(ROOT, 'tsconfig.build.json')], { stdio: 'inherit', cwd: ROOT })
    declarations = 'written'
  }
}
console.log(`walcast build: ${sources.length} modules → dist/ in ${Math.round(performance.now() - started)} ms; SDK type declarations ${declarations}`)
