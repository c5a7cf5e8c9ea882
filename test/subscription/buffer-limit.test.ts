import t from 'tap'
import { overBufferLimit, type BufferAllowance } from '../../src/subscription/buffer-limit.ts'

const LIMIT = 1000

t.test('I9: the send-buffer limit bounds what is queued, not one frame', async (t) => {
  const a: BufferAllowance = { oversize: 0 }
  t.equal(overBufferLimit(a, LIMIT, 1000, 10), false, 'at the limit: fine')
  t.equal(overBufferLimit(a, LIMIT, 1001, 10), true, 'a small frame past it: over')
  t.equal(overBufferLimit(a, LIMIT, 1001, 0), true, 'a check past it: over')
  t.equal(a.oversize, 0)

  t.equal(overBufferLimit(a, LIMIT, 1500, 1500), false, 'a frame larger than the limit onto an empty buffer is admitted')
  t.equal(a.oversize, 1500)
  t.equal(overBufferLimit(a, LIMIT, 1520, 20), false, 'small frames behind it (a pong) fit in the room it was given')
  t.equal(overBufferLimit(a, LIMIT, 2400, 0), false, 'a check up to limit + that frame: still fine')
  t.equal(overBufferLimit(a, LIMIT, 2501, 0), true, 'past limit + that frame: over')
  t.equal(overBufferLimit(a, LIMIT, 900, 0), false, 'back under the limit')
  t.equal(a.oversize, 0, 'which takes the room away again')
  t.equal(overBufferLimit(a, LIMIT, 1101, 20), true, 'so a small frame past the limit is over once more')
})

t.test('a large frame is admitted only onto a buffer at or below half the limit', async (t) => {
  const a: BufferAllowance = { oversize: 0 }
  t.equal(overBufferLimit(a, LIMIT, 500 + 1500, 1500), false, 'half the limit queued ahead: admitted')
  const b: BufferAllowance = { oversize: 0 }
  t.equal(overBufferLimit(b, LIMIT, 501 + 1500, 1500), true, 'more than half ahead: over (the sender should have waited for a drain)')
  t.equal(b.oversize, 0)
  const c: BufferAllowance = { oversize: 0 }
  t.equal(overBufferLimit(c, LIMIT, 1200, 900), false, 'a frame smaller than the limit that still does not fit: the same rule')
  t.equal(c.oversize, 900)
  t.equal(overBufferLimit(c, LIMIT, 1200 + 2000, 2000), true, 'a second large frame behind the first is not admitted')
})
