export const escrowTopic = (escrowId: string): string => `escrow:${escrowId}`
export const userTopic = (userId: string): string => `user:${userId}`
export const ADMIN_DISPUTES_TOPIC = 'admin:disputes'
