#!/usr/bin/env node
// Runs the compiled walcast (dist/, written by `npm run build`, which `npm install` runs
// as `prepare`): plain node, no TypeScript compiler at start-up.
import fs from 'node:fs'

const entry = new URL('../dist/cli/run.js', import.meta.url)
if (!fs.existsSync(entry)) {
  process.stderr.write('walcast: NOT_BUILT: dist/ has no compiled walcast\nhint: run `npm run build` in the walcast package (npm install does it unless scripts are off)\n')
  process.exit(1)
}
await import(entry.href)
