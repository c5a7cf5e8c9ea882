import type { Domain } from '../types.ts'
import { disputesMapper } from './disputes.ts'
import { escrowsMapper } from './escrows.ts'
import { milestonesMapper } from './milestones.ts'
import { notificationsMapper } from './notifications.ts'
import { partiesMapper } from './parties.ts'

/** The escrow domain: five tracked tables, each mapped by its own module. */
export const escrowDomain: Domain = {
  name: 'escrow',
  mappers: [escrowsMapper, partiesMapper, milestonesMapper, disputesMapper, notificationsMapper],
  // Status transitions compare old and new rows; a deleted party must still name its escrow.
  fullIdentityTables: ['public.escrows', 'public.escrow_parties', 'public.milestones', 'public.disputes'],
}
