import { randomUUID } from 'node:crypto'
import type { Catalog } from '../catalog/catalog.ts'
import type { BusConfig, EphemeralConfig } from '../config.ts'
import type { Logger } from '../log.ts'
import { createEphemeralHub, type EphemeralHub } from './hub.ts'
import { connectEphemeralLink } from './redis-link.ts'
import { compileEphemeral } from './spec.ts'

/**
 * The ephemeral layer for the catalog: node-local, or across nodes over the bus's Redis
 * (its own two connections, a pub/sub channel and presence keys named after the bus
 * stream) when WALCAST_REDIS_URL is set and the catalog declares ephemeral topics.
 */
export async function startEphemeral(config: EphemeralConfig, bus: Pick<BusConfig, 'redisUrl' | 'stream'>, catalog: Catalog, log: Logger): Promise<EphemeralHub> {
  const rules = compileEphemeral(catalog)
  const node = randomUUID()
  const used = Object.keys(catalog.ephemeral ?? {}).length > 0
  const link = used && bus.redisUrl !== undefined ? await connectEphemeralLink({ url: bus.redisUrl, prefix: bus.stream, node, log }) : undefined
  return createEphemeralHub({ rules, ttlMs: config.presenceTtlMs, log, link, node })
}
