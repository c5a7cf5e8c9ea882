/** The escrow catalog's topic patterns (docs/events.md#topics); access rules are keyed by them. */
export const ESCROW_TOPIC = 'escrow:{id}'
export const USER_TOPIC = 'user:{id}'
export const ADMIN_DISPUTES_TOPIC = 'admin:disputes'
/** A user's follow set: every escrow they are a party of, as one subscription. */
export const USER_ESCROWS_TOPIC = 'user:{id}:escrows'

export const escrowTopic = (escrowId: string): string => `escrow:${escrowId}`
export const userTopic = (userId: string): string => `user:${userId}`
export const userEscrowsTopic = (userId: string): string => `user:${userId}:escrows`
