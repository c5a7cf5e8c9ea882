import type { Test } from 'tap'
import { waitForNodeHead, type WalcastNode } from './cluster.ts'
import { openSse, type SseReader } from './feed.ts'
import { connectWs, type TestWsClient } from './ws-client.ts'

/**
 * A client of one topic that moves between nodes the way an application does: on another
 * node it resumes from the last event id it received. It records every event frame of
 * every connection, so a duplicate or a hole shows in `ids()`.
 */
export interface Watcher {
  node(): WalcastNode
  /** Event ids received, over every connection, in arrival order. */
  ids(): string[]
  /** Frames other than events, `subscribed` and `pong` (a `reset` would show here). */
  others(): string[]
  /** The current connection ended (its node died). */
  ended(): boolean
  /** Reconnects to `node` with the last id received. */
  moveTo(node: WalcastNode): Promise<void>
  close(): void
}

export async function watchWs(t: Test, node: WalcastNode, token: string, topic: string, since: string): Promise<Watcher> {
  const clients: TestWsClient[] = []
  let current = node
  const ids = (): string[] => clients.flatMap((c) => c.frames.filter((f) => f.op === 'event').map((f) => f.id!))
  const open = async (target: WalcastNode): Promise<void> => {
    current = target
    const client = await connectWs(t, target.port, token)
    clients.push(client)
    client.subscribe(topic, { since: ids().at(-1) ?? since })
  }
  await waitForNodeHead(node, token, topic, since)
  await open(node)
  return {
    node: () => current,
    ids,
    others: () => clients.flatMap((c) => c.frames.filter((f) => !['event', 'subscribed', 'pong'].includes(f.op)).map((f) => `${f.op}:${String(f.code ?? f.reason ?? '')}`)),
    ended: () => clients.at(-1)!.closeInfo() !== undefined,
    moveTo: open,
    close: () => { for (const c of clients) c.ws.terminate() },
  }
}

export async function watchSse(t: Test, node: WalcastNode, token: string, topic: string, since: string): Promise<Watcher> {
  const streams: SseReader[] = []
  let current = node
  const frames = (): { op: string; id?: string; reason?: string }[] => streams.flatMap((s) => s.messages.map((m) => JSON.parse(m.data) as { op: string; id?: string }))
  const ids = (): string[] => frames().filter((f) => f.op === 'event').map((f) => f.id!)
  const open = async (target: WalcastNode): Promise<void> => {
    current = target
    const stream = await openSse(`${target.base}/v1/sse?topic=${encodeURIComponent(topic)}`, { authorization: `Bearer ${token}`, 'last-event-id': ids().at(-1) ?? since })
    if (stream.status !== 200) throw new Error(`SSE on ${target.base}: ${stream.status} ${JSON.stringify(stream.body)}`)
    streams.push(stream)
    t.teardown(() => stream.close())
  }
  await waitForNodeHead(node, token, topic, since)
  await open(node)
  return {
    node: () => current,
    ids,
    others: () => frames().filter((f) => !['event', 'subscribed'].includes(f.op)).map((f) => `${f.op}:${f.reason ?? ''}`),
    ended: () => streams.at(-1)!.ended(),
    moveTo: open,
    close: () => { for (const s of streams) s.close() },
  }
}
