/** The trading catalog's topic patterns and the topic of each asset and user. */
export const ORDERBOOK_TOPIC = 'orderbook:{asset}'
export const TRADES_TOPIC = 'trades:{asset}'
export const PRICE_TOPIC = 'price:{asset}'
export const USER_TOPIC = 'user:{id}'

export const orderbookTopic = (asset: string): string => `orderbook:${asset}`
export const tradesTopic = (asset: string): string => `trades:${asset}`
export const priceTopic = (asset: string): string => `price:${asset}`
export const userTopic = (userId: string): string => `user:${userId}`
