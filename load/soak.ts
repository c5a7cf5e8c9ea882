/**
 * soak: VUS clients, each subscribed to its spread escrow topic (and every 10th also to
 * the hot topic), hold their connection for DURATION while the writer commits. Proves a
 * long run delivers every event exactly once, in time, with no session failing.
 *
 *   k6 run -e WALCAST_URL=ws://127.0.0.1:8080/v1/ws -e WALCAST_JWT_SECRET=… -e VUS=200 -e DURATION=10m load/soak.ts
 */
import type { Options } from 'k6/options'
import { setTimeout } from 'k6/timers'
import exec from 'k6/execution'
import { durationMs, loadEnv, spreadTopic, userOf } from './lib/env.ts'
import { openSession } from './lib/session.ts'
import { StreamCheck } from './lib/stream-check.ts'
import { signToken } from './lib/token.ts'

const env = loadEnv()

export const options: Options = {
  scenarios: {
    soak: { executor: 'per-vu-iterations', vus: env.vus, iterations: 1, maxDuration: `${Math.ceil(durationMs(env.duration) / 1000) + 30}s` },
  },
  thresholds: {
    walcast_session_errors: ['count==0'],
    walcast_gaps: ['count==0'],
    walcast_duplicates: ['count==0'],
    walcast_resets: ['count==0'],
    walcast_events: ['count>0'],
    walcast_delivery_ms: [`p(95)<${__ENV.P95_MS ?? '250'}`, `p(99)<${__ENV.P99_MS ?? '1000'}`],
  },
}

export default function soak(): void {
  const user = userOf(exec.vu.idInTest, env)
  const topics = [spreadTopic(user, env)]
  if (user % 10 === 0) topics.push(`escrow:${env.hotEscrow}`)
  const check = new StreamCheck()
  const session = openSession({ url: env.url, token: signToken(env.secret, String(user)), topics, check, resume: false })
  setTimeout(() => session.close(), durationMs(env.duration))
}
