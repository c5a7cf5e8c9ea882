/**
 * The marketplace catalog's events (docs/catalogs.md#the-marketplace-catalog). `data`
 * fields are camelCase; ids, money and timestamps are strings. No payload names an e-mail,
 * a phone number, an address, a card, an account or a note meant for one side only.
 */
export interface MarketplaceEventMap {
  /** A buyer posted a purchase request: to its participants, its buyer, every seller and the admins. */
  'request:created': RequestData & { title: string; description: string; category: string; budget: string | null; currency: string; createdAt: string }
  /** A seller made an offer: to the offer's buyer and seller only (bids are sealed). */
  'request:offer-received': OfferData & { price: string; currency: string; message: string; createdAt: string }
  /** The request's status moved: to its participants, its buyer and the admins. */
  'request:status-updated': RequestData & { from: RequestStatus; to: RequestStatus; updatedAt: string }
  /** A counter-offer, a rejection or a withdrawal: a new price, round or status short of accepted. */
  'offer:negotiation-update': OfferData & { price: string; previousPrice: string; currency: string; round: number; status: OfferStatus; by: Party }
  /** The buyer accepted the offer: the deal, to both parties and the admins. */
  'offer:accepted': OfferData & { price: string; currency: string; round: number; acceptedAt: string }
  'chat:new-message': { chatId: string; messageId: string; senderId: string; body: string; sentAt: string }
  /** A participant's read mark moved forward: they have read up to `messageId`. */
  'chat:message-read': { chatId: string; userId: string; messageId: string; readAt: string | null }
  'dispute:opened': DisputeData & { openedBy: string; reason: string; openedAt: string }
  'dispute:resolved': DisputeData & { resolution: string | null; resolvedAt: string | null }
  /** A payment appeared (`from` null) or its status moved. */
  'payment:status-updated': { paymentId: string; offerId: string; requestId: string; buyerId: string; sellerId: string; amount: string; currency: string; from: PaymentStatus | null; to: PaymentStatus; updatedAt: string }
  'payout:completed': { payoutId: string; sellerId: string; paymentId: string | null; amount: string; currency: string; completedAt: string | null }
  /** To the user's own topic, or (`userId` null) to every seller or every buyer. */
  'notification:received': { notificationId: string; audience: 'user' | 'sellers' | 'buyers'; userId: string | null; kind: string; title: string; body: string; createdAt: string }
}

interface RequestData {
  requestId: string
  buyerId: string
}

interface OfferData {
  offerId: string
  requestId: string
  sellerId: string
  buyerId: string
}

interface DisputeData {
  disputeId: string
  offerId: string
  requestId: string
  buyerId: string
  sellerId: string
}

export type MarketplaceEventType = keyof MarketplaceEventMap
export type RequestStatus = 'open' | 'negotiating' | 'awarded' | 'completed' | 'cancelled'
export type OfferStatus = 'pending' | 'countered' | 'accepted' | 'rejected' | 'withdrawn'
export type PaymentStatus = 'pending' | 'authorized' | 'captured' | 'failed' | 'refunded'
export type Party = 'buyer' | 'seller'
