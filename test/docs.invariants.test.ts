import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'

/** test file → the invariant ids its test titles cite (`I4: …`, `… (I4)`, `I6, I1: …`). */
function citations(dir = 'test'): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>()
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) {
      for (const [file, ids] of citations(full)) out.set(file, ids)
      continue
    }
    if (!entry.name.endsWith('.test.ts')) continue
    const text = fs.readFileSync(full, 'utf8')
    const ids = new Set<string>()
    for (const title of text.matchAll(/\bt\.test\(\s*(['"`])((?:\\.|(?!\1).)*)\1/g)) {
      for (const id of title[2]!.matchAll(/\bI(\d+)\b/g)) ids.add(`I${id[1]}`)
    }
    if (ids.size > 0) out.set(full, ids)
  }
  return out
}

const doc = fs.readFileSync('docs/invariants.md', 'utf8')
const rules = new Map<string, string[]>()
for (const section of doc.split(/^## /m).slice(1)) {
  const id = /^(I\d+) — /.exec(section)?.[1]
  if (id === undefined) continue
  const listed = /^Tests: (.+)$/m.exec(section)?.[1]
  rules.set(id, listed === undefined ? [] : [...listed.matchAll(/`([^`]+)`/g)].map((m) => m[1]!))
}
const cited = citations()

t.test('docs/invariants.md: every rule names the tests that enforce it, and they cite it', async (t) => {
  t.ok(rules.size >= 10, `read the rules (${rules.size})`)
  for (const [id, files] of rules) {
    t.ok(files.length > 0, `${id} names at least one test`)
    for (const file of files) {
      t.ok(fs.existsSync(file), `${id}: ${file} exists`)
      t.ok(cited.get(file)?.has(id), `${id}: ${file} cites ${id} in a test title`)
    }
  }
})

t.test('every invariant a test title cites is a rule in docs/invariants.md that lists that test', async (t) => {
  t.ok(cited.size >= 10, `found the citing tests (${cited.size})`)
  for (const [file, ids] of cited) {
    for (const id of ids) {
      t.ok(rules.has(id), `${file}: ${id} is a rule`)
      t.ok(rules.get(id)?.includes(file), `${file} is listed under ${id}`)
    }
  }
})
