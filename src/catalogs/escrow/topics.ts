/** The escrow catalog's topic patterns (docs/events.md#topics); access rules are keyed by them. */
export const ESCROW_TOPIC = 'escrow:{id}'
export const USER_TOPIC = 'user:{id}'
export const ADMIN_DISPUTES_TOPIC = 'admin:disputes'

export const escrowTopic = (escrowId: string): string => `escrow:${escrowId}`
export const userTopic = (userId: string): string => `user:${userId}`
