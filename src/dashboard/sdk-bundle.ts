import path from 'node:path'
import { fileURLToPath } from 'node:url'

// The SDK's entry beside this module: src/client/index.ts from the sources, the compiled
// dist/client/index.js from a build.
const ENTRY = fileURLToPath(new URL(`../client/index${path.extname(fileURLToPath(import.meta.url))}`, import.meta.url))

let bundle: Promise<string> | undefined

/**
 * The browser SDK: the client bundled into one ES module by esbuild (a dependency) on
 * first request and kept in memory, so the browser runs exactly the code the Node tests
 * exercise.
 */
export function browserSdk(): Promise<string> {
  bundle ??= import('esbuild')
    .then((esbuild) => esbuild.build({
      entryPoints: [ENTRY],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2020',
      write: false,
      legalComments: 'none',
    }))
    .then((result) => result.outputFiles[0]!.text)
    .catch((err: unknown) => {
      bundle = undefined
      throw err
    })
  return bundle
}
