import { defineCatalog } from '../../catalog/catalog.ts'
import { streamsDashboard } from './dashboard.ts'
import { seedStreamsDemo, streamsDemoScript } from './demo.ts'
import type { PaymentStreamEventMap } from './events.ts'
import { streamsMapper } from './streams.ts'

const STREAM_TOPIC = 'stream:{id}'

/**
 * Payment streams: money streamed from a sender to a recipient over time. A stream's
 * topic is readable by its sender and its recipient only (an owner rule on the stream
 * row itself), so a guessed stream id and a foreign one get the identical answer.
 */
export const paymentStreamsCatalog = defineCatalog<PaymentStreamEventMap>({
  name: 'payment-streams',
  tables: [streamsMapper],
  events: {
    'stream:updated': { topics: [STREAM_TOPIC] },
    'settle:finished': { topics: [STREAM_TOPIC] },
  },
  access: {
    [STREAM_TOPIC]: { kind: 'owner', table: 'public.payment_streams', key: 'id', owners: ['sender_id', 'recipient_id'] },
  },
  schema: new URL('./schema.sql', import.meta.url),
  demo: { seed: seedStreamsDemo, script: streamsDemoScript, signIn: 'sign in as Ada Sender, user 1' },
  dashboard: streamsDashboard,
})
