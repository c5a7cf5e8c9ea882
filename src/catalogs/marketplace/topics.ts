/** The marketplace catalog's topic patterns; access rules are keyed by them. */
export const USER_TOPIC = 'user:{id}'
/** A seller profile's topic: `{id}` is the seller id (marketplace.sellers.id), not the user's. */
export const SELLER_TOPIC = 'seller:{id}'
/** A buyer profile's topic: `{id}` is the buyer id (marketplace.buyers.id). */
export const BUYER_TOPIC = 'buyer:{id}'
export const REQUEST_TOPIC = 'request:{id}'
export const CHAT_TOPIC = 'chat:{id}'
export const ADMIN_TOPIC = 'admin'
/** Broadcasts: every token with the role. */
export const SELLERS_TOPIC = 'sellers'
export const BUYERS_TOPIC = 'buyers'

export const userTopic = (userId: string): string => `user:${userId}`
export const sellerTopic = (sellerId: string): string => `seller:${sellerId}`
export const buyerTopic = (buyerId: string): string => `buyer:${buyerId}`
export const requestTopic = (requestId: string): string => `request:${requestId}`
export const chatTopic = (chatId: string): string => `chat:${chatId}`
