import type { Catalog } from './catalog.ts'

/** The catalogs walcast ships, by WALCAST_CATALOG name; each loaded only when selected. */
export const BUILTIN_CATALOGS: Readonly<Record<string, () => Promise<Catalog>>> = {
  escrow: async () => (await import('../catalogs/escrow/index.ts')).escrowCatalog,
  'payment-streams': async () => (await import('../catalogs/payment-streams/index.ts')).paymentStreamsCatalog,
  approvals: async () => (await import('../catalogs/approvals/index.ts')).approvalsCatalog,
  marketplace: async () => (await import('../catalogs/marketplace/index.ts')).marketplaceCatalog,
}

export const DEFAULT_CATALOG = 'escrow'
