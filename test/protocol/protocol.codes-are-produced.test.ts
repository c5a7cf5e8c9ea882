import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { CLOSE, CLOSE_CLASS, closeClass } from '../../src/protocol/close-codes.ts'
import { ERROR_STATUS, isClientErrorCode } from '../../src/protocol/error-codes.ts'

/** Every .ts file under src/, as text, keyed by path. */
function sources(dir = 'src'): Map<string, string> {
  const out = new Map<string, string>()
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) for (const [k, v] of sources(full)) out.set(k, v)
    else if (entry.name.endsWith('.ts')) out.set(full, fs.readFileSync(full, 'utf8'))
  }
  return out
}

const all = sources()
const producers = [...all].filter(([file]) => !file.startsWith(path.join('src', 'protocol')) && !file.startsWith(path.join('src', 'client')))

t.test('every declared client error code is produced somewhere, with its one HTTP status', async (t) => {
  for (const code of Object.keys(ERROR_STATUS)) {
    const where = producers.filter(([, text]) => text.includes(`'${code}'`)).map(([file]) => file)
    t.ok(where.length > 0, `${code} is produced (${where.join(', ') || 'nowhere'})`)
  }
  // httpError(status, code, …) and FeedRequestError(status, code, …): the status is the code's.
  const calls = producers.flatMap(([file, text]) => [...text.matchAll(/(?:httpError|FeedRequestError)\((\d{3}), '(\w+)'/g)].map((m) => ({ file, status: Number(m[1]), code: m[2]! })))
  t.ok(calls.length > 20, `found the HTTP error sites (${calls.length})`)
  for (const call of calls) {
    t.ok(isClientErrorCode(call.code), `${call.file}: ${call.code} is a declared code`)
    if (isClientErrorCode(call.code)) t.equal(call.status, ERROR_STATUS[call.code], `${call.file}: ${call.code} answers ${ERROR_STATUS[call.code]}`)
  }
})

t.test('every close code is sent somewhere and has a class', async (t) => {
  for (const [name, code] of Object.entries(CLOSE)) {
    const where = producers.filter(([, text]) => text.includes(`CLOSE.${name}`)).map(([file]) => file)
    // 1009 is uWS's own answer to an oversized frame, enforced through maxPayloadLength too.
    t.ok(where.length > 0, `${code} (${name}) is sent (${where.join(', ') || 'nowhere'})`)
    t.ok(CLOSE_CLASS[code] !== undefined, `${code} has a class`)
  }
  t.equal(closeClass(4001), 'refresh')
  t.equal(closeClass(4029), 'terminal')
  t.equal(closeClass(4008), 'overload')
  t.equal(closeClass(1013), 'overload', 'a proxy shedding load (Try Again Later)')
  t.equal(closeClass(1006), 'reconnect', 'a code walcast never sends (a dropped connection): reconnect')
  t.equal(closeClass(undefined), 'reconnect')
})

// Comments may name a code; code may not.
const withoutComments = (text: string): string => text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:])\/\/.*$/gm, '$1')

t.test('no transport or SDK file re-declares a close code or a reset reason', async (t) => {
  for (const [file, text] of all) {
    if (file.startsWith(path.join('src', 'protocol'))) continue
    const code = withoutComments(text)
    t.notMatch(code, /\b(?:4001|4008|4029)\b/, `${file} uses CLOSE, not a number`)
    // The subscription core is where resets are decided; everything else passes them on.
    if (!file.startsWith(path.join('src', 'subscription'))) t.notMatch(code, /'history_gone'|'stream_gap'|'unknown_position'/, `${file} takes reset reasons from the core`)
  }
})
