/**
 * reconnect-storm: every client drops its connection at the same moment, STORMS times,
 * and resumes each topic with `since` = the last id it saw. Proves a thundering herd of
 * resumes loses nothing and duplicates nothing (walcast_gaps == 0) and how long a resume
 * takes under the herd (walcast_subscribe_ms).
 *
 *   k6 run -e WALCAST_URL=… -e WALCAST_JWT_SECRET=… -e VUS=500 -e DURATION=1m -e STORMS=3 load/reconnect-storm.ts
 */
import type { Options } from 'k6/options'
import { setTimeout } from 'k6/timers'
import exec from 'k6/execution'
import { durationMs, loadEnv, spreadTopic, userOf } from './lib/env.ts'
import { openSession, type Session } from './lib/session.ts'
import { StreamCheck } from './lib/stream-check.ts'
import { signToken } from './lib/token.ts'

const env = loadEnv()
const storms = Math.max(1, Number(__ENV.STORMS ?? '3'))

export const options: Options = {
  scenarios: {
    storm: { executor: 'per-vu-iterations', vus: env.vus, iterations: 1, maxDuration: `${Math.ceil(durationMs(env.duration) / 1000) + 30}s` },
  },
  thresholds: {
    walcast_session_errors: ['count==0'],
    walcast_gaps: ['count==0'],
    walcast_duplicates: ['count==0'],
    walcast_resets: ['count==0'],
    walcast_events: ['count>0'],
    walcast_subscribe_ms: [`p(95)<${__ENV.RESUME_P95_MS ?? '5000'}`],
  },
}

export default function storm(): void {
  const user = userOf(exec.vu.idInTest, env)
  const topics = [spreadTopic(user, env), `escrow:${env.hotEscrow}`]
  const token = signToken(env.secret, String(user))
  const check = new StreamCheck()
  const total = durationMs(env.duration)
  // Storms fall on the same wall-clock instants for every VU: the scenario's start plus
  // equal slices of the duration, whatever moment this VU connected.
  const start = exec.scenario.startTime
  let session: Session = openSession({ url: env.url, token, topics, check, resume: false })
  for (let i = 1; i <= storms; i++) {
    const at = start + (total * i) / (storms + 1)
    setTimeout(() => {
      session.close()
      session = openSession({ url: env.url, token, topics, check, resume: true })
    }, Math.max(0, at - Date.now()))
  }
  setTimeout(() => session.close(), Math.max(0, start + total - Date.now()))
}
