/**
 * fanout-spike: clients pile onto one hot topic, ramping from 0 to VUS within RAMP,
 * holding for DURATION, then leaving. Proves delivery latency and continuity on the hot
 * topic while subscriptions arrive in a burst (each session checks its own stream).
 *
 *   k6 run -e WALCAST_URL=… -e WALCAST_JWT_SECRET=… -e VUS=2000 -e RAMP=30s -e DURATION=1m load/fanout-spike.ts
 */
import type { Options } from 'k6/options'
import { setTimeout } from 'k6/timers'
import exec from 'k6/execution'
import { durationMs, loadEnv, userOf } from './lib/env.ts'
import { openSession } from './lib/session.ts'
import { StreamCheck } from './lib/stream-check.ts'
import { signToken } from './lib/token.ts'

const env = loadEnv()
const ramp = __ENV.RAMP ?? '10s'
const hold = durationMs(env.duration)

export const options: Options = {
  scenarios: {
    spike: {
      executor: 'ramping-vus',
      startVUs: 0,
      stages: [
        { duration: ramp, target: env.vus },
        { duration: env.duration, target: env.vus },
        { duration: '2s', target: 0 },
      ],
      gracefulRampDown: '5s',
      gracefulStop: '5s',
    },
  },
  thresholds: {
    walcast_session_errors: ['count==0'],
    walcast_gaps: ['count==0'],
    walcast_duplicates: ['count==0'],
    walcast_events: ['count>0'],
    walcast_delivery_ms: [`p(95)<${__ENV.P95_MS ?? '500'}`, `p(99)<${__ENV.P99_MS ?? '2000'}`],
  },
}

export default function spike(): void {
  const user = userOf(exec.vu.idInTest, env)
  const check = new StreamCheck()
  // Each VU stays until the hold ends (or k6's ramp-down stops it).
  const session = openSession({ url: env.url, token: signToken(env.secret, String(user)), topics: [`escrow:${env.hotEscrow}`], check, resume: false })
  const elapsed = Date.now() - exec.scenario.startTime
  setTimeout(() => session.close(), Math.max(1000, durationMs(ramp) + hold - elapsed))
}
