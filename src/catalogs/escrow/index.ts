import { defineCatalog } from '../../catalog/catalog.ts'
import { escrowDashboard } from './dashboard.ts'
import { seedDemoData } from './demo-seed.ts'
import { escrowDemoScript } from './demo-script.ts'
import { disputesMapper } from './disputes.ts'
import { escrowsMapper } from './escrows.ts'
import type { EscrowEventMap } from './events.ts'
import { milestonesMapper } from './milestones.ts'
import { notificationsMapper } from './notifications.ts'
import { partiesMapper } from './parties.ts'
import { ADMIN_DISPUTES_TOPIC, ESCROW_TOPIC, USER_ESCROWS_TOPIC, USER_TOPIC } from './topics.ts'

/**
 * The escrow catalog: five tracked tables, each mapped by its own module (the worked
 * example of docs/catalogs.md). Status transitions compare old and new rows, and a
 * deleted party must still name its escrow: those tables need REPLICA IDENTITY FULL.
 */
export const escrowCatalog = defineCatalog<EscrowEventMap>({
  name: 'escrow',
  tables: [escrowsMapper, partiesMapper, milestonesMapper, disputesMapper, notificationsMapper],
  events: {
    'escrow:status_changed': { topics: [ESCROW_TOPIC] },
    'escrow:milestone_released': { topics: [ESCROW_TOPIC] },
    'escrow:dispute_filed': { topics: [ESCROW_TOPIC, ADMIN_DISPUTES_TOPIC] },
    'escrow:dispute_resolved': { topics: [ESCROW_TOPIC, ADMIN_DISPUTES_TOPIC] },
    'escrow:party_joined': { topics: [ESCROW_TOPIC] },
    'escrow:party_left': { topics: [ESCROW_TOPIC] },
    'notification:new': { topics: [USER_TOPIC] },
  },
  access: {
    // A party is a row of escrow_parties, accepted or not; admins read every escrow.
    [ESCROW_TOPIC]: {
      kind: 'membership', table: 'public.escrow_parties', key: 'escrow_id', user: 'user_id', admin: true,
      grantedBy: { event: 'escrow:party_joined', key: 'escrowId', user: 'userId' },
      revokedBy: { event: 'escrow:party_left', key: 'escrowId', user: 'userId' },
    },
    // Every escrow the user is a party of, as one subscription (the dashboard's).
    [USER_ESCROWS_TOPIC]: { kind: 'follow', of: ESCROW_TOPIC },
    // Notifications are personal: not even an admin reads another user's.
    [USER_TOPIC]: { kind: 'self' },
    [ADMIN_DISPUTES_TOPIC]: { kind: 'role', role: 'admin' },
  },
  schema: new URL('./schema.sql', import.meta.url),
  demo: { seed: seedDemoData, script: escrowDemoScript, signIn: 'sign in as Ada Buyer, user 1' },
  dashboard: escrowDashboard,
})
