/** The escrow domain's event catalog (docs/events.md). `data` fields are camelCase. */
export interface EscrowEventMap {
  'escrow:status_changed': { escrowId: string; from: EscrowStatus | null; to: EscrowStatus }
  'escrow:milestone_released': { escrowId: string; milestoneId: string; amount: string; currency: string; releasedAt: string | null }
  'escrow:dispute_filed': { escrowId: string; disputeId: string; filedBy: string; reason: string }
  'escrow:dispute_resolved': { escrowId: string; disputeId: string; resolution: string | null; resolvedAt: string | null }
  'escrow:party_joined': { escrowId: string; userId: string; role: PartyRole }
  'escrow:party_left': { escrowId: string; userId: string }
  'notification:new': { notificationId: string; kind: string; title: string; body: string; createdAt: string }
}

export type EscrowEventType = keyof EscrowEventMap
export type EscrowStatus = 'draft' | 'funded' | 'in_progress' | 'completed' | 'disputed' | 'refunded' | 'cancelled'
export type PartyRole = 'buyer' | 'seller' | 'arbiter'

export const ESCROW_EVENT_TYPES: readonly EscrowEventType[] = [
  'escrow:status_changed',
  'escrow:milestone_released',
  'escrow:dispute_filed',
  'escrow:dispute_resolved',
  'escrow:party_joined',
  'escrow:party_left',
  'notification:new',
]
