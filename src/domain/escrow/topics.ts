export const ESCROW_TOPIC_PREFIX = 'escrow:'
export const USER_TOPIC_PREFIX = 'user:'
export const escrowTopic = (escrowId: string): string => `${ESCROW_TOPIC_PREFIX}${escrowId}`
export const userTopic = (userId: string): string => `${USER_TOPIC_PREFIX}${userId}`
export const ADMIN_DISPUTES_TOPIC = 'admin:disputes'

const CANONICAL_ID = /^[1-9][0-9]{0,18}$/
const INT8_MAX = 9223372036854775807n

/**
 * A positive int8 in the one spelling Postgres prints: the only ids events are ever
 * published under. `01`, `-1`, `1 OR 1=1` or a value past int8 name no topic, so a
 * subscription to them could never receive an event; refusing them keeps topics exact.
 */
export function isCanonicalId(text: string): boolean {
  return CANONICAL_ID.test(text) && BigInt(text) <= INT8_MAX
}
