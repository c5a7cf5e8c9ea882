// ts-node's transpiler under tap (tsconfig.json's "ts-node" section): esbuild, as the build
// (scripts/build.mjs) compiles dist/, in place of TypeScript's transpileModule. Every test
// process, and every walcast child a test spawns with its loader, compiles the source tree
// it imports at start-up: TypeScript took about twice the CPU for it (3.4 s against 1.6 s
// for the service and its test helpers). Types are only erased here: tap does not
// type-check, `npm run typecheck` does. Every covered process compiles the same way, so
// their coverage merges by file as before.
'use strict'
const esbuild = require('esbuild')

const COMPILER_OPTIONS = { target: 'ES2022', useDefineForClassFields: true, verbatimModuleSyntax: true }

exports.create = function create() {
  return {
    transpile(input, { fileName }) {
      const out = esbuild.transformSync(input, {
        loader: fileName.endsWith('x') ? 'tsx' : 'ts',
        format: /\.c[tj]s$/.test(fileName) ? 'cjs' : 'esm',
        target: 'node20',
        sourcemap: 'external',
        sourcefile: fileName,
        tsconfigRaw: { compilerOptions: COMPILER_OPTIONS },
      })
      return { outputText: out.code, sourceMapText: out.map }
    },
  }
}
