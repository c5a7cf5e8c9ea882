import t from 'tap'
import { FailureLog } from './helpers/failure-log.ts'

t.test('a failure split across chunks is kept with its diagnostics, and every failing title comes last', async (t) => {
  const log = new FailureLog()
  log.push('ok 1 - fine\n    not ok 2 - time')
  log.push('out!\n      ---\n      expired: TAP\n      ...\n    ok 3 - later\nnot ok 4 - test/x.test.ts # time=1ms\n')
  t.equal(log.summary(), [
    '',
    '# failures (repeated from above):',
    '    not ok 2 - timeout!', '      ---', '      expired: TAP', '      ...',
    'not ok 4 - test/x.test.ts # time=1ms',
    '# failing tests:',
    '    not ok 2 - timeout!',
    'not ok 4 - test/x.test.ts # time=1ms',
    '',
  ].join('\n'))
})

t.test('a long diagnostics block is cut at the set number of lines', async (t) => {
  const log = new FailureLog(2)
  log.push('not ok 1 - big\n  a\n  b\n  c\n  d\n')
  t.equal(log.summary(), '\n# failures (repeated from above):\nnot ok 1 - big\n  a\n  b\n# failing tests:\nnot ok 1 - big\n')
})

t.test('a run with no not-ok line says so', async (t) => {
  const log = new FailureLog()
  log.push('ok 1 - fine\n# { total: 1, pass: 1 }')
  t.match(log.summary(), /failures: none reported in TAP/)
})
