import t from 'tap'
import { partiesMapper } from '../../src/catalogs/escrow/parties.ts'
import type { Row, RowChange } from '../../src/catalog/row-change.ts'

// Values as pgoutput hands them over through pg's type parsers: int8 as a string.
const party = (escrowId: string, userId: string, accepted: boolean, role = 'buyer'): Row => ({
  escrow_id: escrowId,
  user_id: userId,
  role,
  invited_at: new Date('2026-01-01T00:00:00Z'),
  accepted_at: accepted ? new Date('2026-01-02T00:00:00Z') : null,
})
const table = 'public.escrow_parties'
const update = (old: Row, next: Row): RowChange => ({ kind: 'update', table, old, new: next })
const events = (change: RowChange): [string, readonly string[], Record<string, unknown>][] =>
  partiesMapper.map(change).map((e) => [e.type, e.topics, { ...e.data }])

t.test('I7: moving a party row to another escrow leaves the old one, then joins the new one', async (t) => {
  t.same(events(update(party('1', '10', true), party('2', '10', true))), [
    ['escrow:party_left', ['escrow:1'], { escrowId: '1', userId: '10' }],
    ['escrow:party_joined', ['escrow:2'], { escrowId: '2', userId: '10', role: 'buyer' }],
  ], 'left on the old topic first, joined on the new one after')
  t.same(events(update(party('1', '10', false), party('2', '10', true))), [
    ['escrow:party_left', ['escrow:1'], { escrowId: '1', userId: '10' }],
    ['escrow:party_joined', ['escrow:2'], { escrowId: '2', userId: '10', role: 'buyer' }],
  ], 'an invited (not accepted) row that moves also leaves: access is the row, not the acceptance')
})

t.test('I7: handing a party row to another user revokes the old user', async (t) => {
  t.same(events(update(party('1', '10', true, 'seller'), party('1', '11', true, 'seller'))), [
    ['escrow:party_left', ['escrow:1'], { escrowId: '1', userId: '10' }],
    ['escrow:party_joined', ['escrow:1'], { escrowId: '1', userId: '11', role: 'seller' }],
  ])
  t.same(events(update(party('1', '10', true), party('1', '11', false))), [
    ['escrow:party_left', ['escrow:1'], { escrowId: '1', userId: '10' }],
  ], 'a new key that is not accepted yet: only the leave')
  t.same(events(update(party('1', '10', false), party('3', '12', false))), [
    ['escrow:party_left', ['escrow:1'], { escrowId: '1', userId: '10' }],
  ], 'both key columns at once: one leave for the old key')
})

t.test('I7: delete leaves; updates that keep the key behave as before', async (t) => {
  t.same(events({ kind: 'delete', table, old: party('1', '10', true), new: null }), [
    ['escrow:party_left', ['escrow:1'], { escrowId: '1', userId: '10' }],
  ])
  t.same(events({ kind: 'delete', table, old: null, new: null }), [], 'no old row: nothing to name')
  t.same(events({ kind: 'insert', table, old: null, new: party('1', '10', true) }), [
    ['escrow:party_joined', ['escrow:1'], { escrowId: '1', userId: '10', role: 'buyer' }],
  ])
  t.same(events({ kind: 'insert', table, old: null, new: party('1', '10', false) }), [], 'invited only')
  t.same(events(update(party('1', '10', false), party('1', '10', true))), [
    ['escrow:party_joined', ['escrow:1'], { escrowId: '1', userId: '10', role: 'buyer' }],
  ], 'accepted_at null -> value')
  t.same(events(update(party('1', '10', true), party('1', '10', true, 'arbiter'))), [], 'a role change is no membership change')
  t.same(events(update(party('1', '10', true), party('1', '10', false))), [], 'un-accepting keeps the row, so the access')
})
