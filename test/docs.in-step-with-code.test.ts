import fs from 'node:fs/promises'
import t from 'tap'

t.test('docs/errors.md has a heading for every error code of src/errors.ts', async (t) => {
  const source = await fs.readFile('src/errors.ts', 'utf8')
  const union = /export type ErrorCode =([^]*?)\n\n/.exec(source)![1]!
  const codes = [...union.matchAll(/'([A-Z_]+)'/g)].map((m) => m[1]!).sort()
  const docs = await fs.readFile('docs/errors.md', 'utf8')
  const headings = new Set([...docs.matchAll(/^## ([A-Z_]+)$/gm)].map((m) => m[1]!))
  t.ok(codes.length >= 10, 'read the codes')
  t.same(codes.filter((code) => !headings.has(code)), [], 'no code is undocumented')
})

t.test('docs/operations.md documents every variable src/config.ts reads, with its default', async (t) => {
  const source = await fs.readFile('src/config.ts', 'utf8')
  const variables = [...new Set([...source.matchAll(/'((?:WALCAST|DATABASE)_[A-Z_]+)'/g)].map((m) => m[1]!))].sort()
  const docs = await fs.readFile('docs/operations.md', 'utf8')
  const rows = new Map([...docs.matchAll(/^\| `((?:WALCAST|DATABASE)_[A-Z_]+)` \| ([^|]+) \|/gm)].map((m) => [m[1]!, m[2]!.trim()]))
  t.ok(variables.length >= 15, 'read the variables')
  t.same(variables.filter((v) => !rows.has(v)), [], 'no variable is undocumented')
  t.ok(variables.every((v) => rows.get(v)!.length > 0), 'each row states a default')
})

t.test('docs/errors.md lists every client error code of src/protocol/error-codes.ts with its HTTP status', async (t) => {
  const { ERROR_STATUS } = await import('../src/protocol/error-codes.ts')
  const docs = await fs.readFile('docs/errors.md', 'utf8')
  const rows = new Map([...docs.matchAll(/^\| `([a-z_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1]!, Number(m[2])]))
  for (const [code, status] of Object.entries(ERROR_STATUS)) t.equal(rows.get(code), status, `${code}: ${status}`)
  t.same([...rows.keys()].filter((code) => !(code in ERROR_STATUS)), [], 'and no code the protocol does not declare')
})
