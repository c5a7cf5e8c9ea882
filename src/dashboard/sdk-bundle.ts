import { fileURLToPath } from 'node:url'

const ENTRY = fileURLToPath(new URL('../client/index.ts', import.meta.url))

let bundle: Promise<string> | undefined

/**
 * The browser SDK: src/client bundled into one ES module by esbuild (already here as
 * tsx's compiler) on first request and kept in memory. No build step to run walcast, and
 * the browser runs exactly the code the Node tests exercise.
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
