/** The payment-streams catalog's events (docs/catalogs.md). `data` fields are camelCase. */
export interface PaymentStreamEventMap {
  /** A stream was opened, or its rate, withdrawn amount or status changed. */
  'stream:updated': { streamId: string; currency: string; rate: string; withdrawn: string; status: StreamStatus }
  /** The stream was settled: what the recipient received in the end. */
  'settle:finished': { streamId: string; currency: string; withdrawn: string; settledAt: string | null }
}

export type PaymentStreamEventType = keyof PaymentStreamEventMap
export type StreamStatus = 'active' | 'paused' | 'cancelled' | 'settled'
