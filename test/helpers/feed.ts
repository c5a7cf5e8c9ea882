import { jwtVerify, SignJWT } from 'jose'
import { sql } from 'kysely'
import type { Test } from 'tap'
import { createFeed } from '../../src/feed/feed.ts'
import type { FeedAuthorizer, FeedVerifier } from '../../src/feed/access.ts'
import { startHttpServer } from '../../src/http/server.ts'
import type { Service } from '../../src/service.ts'
import { createSseParser, type SseMessage } from '../../src/client/sse-parser.ts'
import { silentLogger } from './log.ts'

export const TEST_SECRET = 'walcast-test-secret-0123456789abcdefghij'

export async function signToken(sub: string, options: { admin?: boolean; ttlSec?: number; secret?: string } = {}): Promise<string> {
  let jwt = new SignJWT(options.admin ? { role: 'admin' } : {}).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setIssuedAt()
  jwt = jwt.setExpirationTime(Math.floor(Date.now() / 1000) + (options.ttlSec ?? 600))
  return jwt.sign(new TextEncoder().encode(options.secret ?? TEST_SECRET))
}

// PRE-MERGE STAND-IN: replaced by the service's own feed once the gateway's auth lands.
export async function feedBaseUrl(t: Test, service: Service, env: { heartbeatMs?: number; pollRate?: number; dev?: boolean } = {}): Promise<string> {
  const key = new TextEncoder().encode(TEST_SECRET)
  const verifier: FeedVerifier = {
    async verify(token) {
      const { payload } = await jwtVerify(token ?? '', key, { algorithms: ['HS256'] })
      return { userId: String(payload.sub), admin: payload.role === 'admin', exp: payload.exp! }
    },
  }
  const authorizer: FeedAuthorizer = {
    async canRead(principal, topic) {
      if (principal.admin) return true
      if (topic === `user:${principal.userId}`) return true
      const m = /^escrow:(\d+)$/.exec(topic)
      if (!m) return false
      const rows = await sql`SELECT 1 FROM public.escrow_parties WHERE escrow_id = ${m[1]}::bigint AND user_id = ${principal.userId}::bigint`.execute(service.database.db)
      return rows.rows.length > 0
    },
    onRevoke: () => () => {},
  }
  const feed = createFeed({
    config: { sseHeartbeatMs: env.heartbeatMs ?? 15_000, pollMaxLimit: 1000, pollRate: env.pollRate ?? 1000, pollBurst: env.pollRate ?? 1000, dev: false },
    limits: { maxBackpressure: 1 << 20, maxSubscriptions: 100, maxConnectionsPerUser: 20 },
    auth: { secret: TEST_SECRET, issuer: undefined, audience: undefined },
    dev: env.dev ?? false,
    db: service.database.db,
    history: service.history,
    hub: service.hub,
    verifier,
    authorizer,
    log: silentLogger(),
  })
  const http = await startHttpServer({ host: '127.0.0.1', port: 0 }, feed.routes, silentLogger(), (app) => feed.mount(app))
  t.teardown(() => { feed.close(); http.close() })
  return `http://127.0.0.1:${http.port}`
}

/** An SSE stream read with fetch: every message, the raw text, and whether it ended. */
export interface SseReader {
  readonly status: number
  readonly messages: SseMessage[]
  raw(): string
  ended(): boolean
  close(): void
}

export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseReader & { body?: unknown }> {
  const controller = new AbortController()
  const response = await fetch(url, { headers, signal: controller.signal })
  const messages: SseMessage[] = []
  let raw = ''
  let ended = false
  if (!response.ok || response.body === null) {
    return { status: response.status, messages, raw: () => raw, ended: () => true, close: () => controller.abort(), body: await response.json() }
  }
  const parse = createSseParser((m) => messages.push(m))
  void (async () => {
    try {
      const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        raw += value
        parse(value)
      }
    } catch { /* aborted */ }
    ended = true
  })()
  return { status: response.status, messages, raw: () => raw, ended: () => ended, close: () => controller.abort() }
}
