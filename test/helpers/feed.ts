import type { Test } from 'tap'
import type { Logger } from '../../src/log.ts'
import type { Service } from '../../src/service.ts'
import { createSseParser, type SseMessage } from '../../src/client/sse-parser.ts'
import type { TestDatabase } from './db.ts'
import { startTestService } from './service.ts'
import { authEnv } from './tokens.ts'

/** A walcast accepting test tokens (tokens.ts), and the base URL of its HTTP port. */
export async function startFeedService(t: Test, tdb: TestDatabase, env: Record<string, string> = {}, log?: Logger): Promise<{ service: Service; url: string }> {
  const service = await startTestService(t, tdb, authEnv(env), log)
  return { service, url: `http://127.0.0.1:${service.http.port}` }
}

/** An SSE stream read with fetch: every message, the raw text, and whether it ended. */
export interface SseReader {
  readonly status: number
  readonly messages: SseMessage[]
  /** The JSON body of a refused request. */
  readonly body?: unknown
  raw(): string
  ended(): boolean
  close(): void
}

export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseReader> {
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
