import t from 'tap'
import { STALL_MIN_BYTES, tookEnough } from '../../src/subscription/stalled.ts'

t.test('the stall rule counts bytes taken in the window: enough keeps the client, too few or no count closes it', async (t) => {
  t.equal(tookEnough(1000, 1000 + STALL_MIN_BYTES), true, 'the bar taken')
  t.equal(tookEnough(1000, 1000 + STALL_MIN_BYTES - 1), false, 'one byte short')
  t.equal(tookEnough(5000, 4000), false, 'a count that went down (a publish in between) proves nothing')
  t.equal(tookEnough(undefined, undefined), false, 'a transport that cannot count: time alone, as before')
  t.equal(tookEnough(0, undefined), false)
})
