import t from 'tap'
import { TokenBucket } from '../../src/gateway/token-bucket.ts'
import { createRateLimiter } from '../../src/feed/rate-limit.ts'

t.test('I11: a WebSocket flood is refused, then cut off; a client that backs off recovers', async (t) => {
  let now = 0
  const bucket = new TokenBucket(10, 3, 2, () => now)
  t.same([bucket.take(), bucket.take(), bucket.take()], ['ok', 'ok', 'ok'], 'the burst')
  t.same([bucket.take(), bucket.take()], ['limited', 'limited'], 'refused on an empty bucket, within the tolerance')
  t.equal(bucket.take(), 'exceeded', 'past the tolerance: the connection is cut off')
  now += 1000
  t.equal(bucket.take(), 'ok', 'a second later the bucket has refilled past its debt')
})

t.test('I11: the polling limiter keeps one bucket per user and forgets idle ones', async (t) => {
  let now = 0
  const limiter = createRateLimiter(2, 2, () => now)
  t.same([limiter.take('a'), limiter.take('a'), limiter.take('a')], [true, true, false], 'a burst of 2, then refused')
  t.equal(limiter.take('b'), true, 'another user is not affected')
  now += 500
  t.equal(limiter.take('a'), true, 'one token back after half a second at 2/s')
  t.equal(limiter.take('a'), false)
  for (let i = 0; i < 10_001; i++) limiter.take(`idle-${i}`)
  now += 61_000
  t.equal(limiter.take('fresh'), true, 'a full map of idle users is swept, and new users still get in')
})
