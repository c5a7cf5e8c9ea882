// What a catalog module imports (`walcast/catalog`): the types and the helpers for mappers.
export { defineCatalog, type Catalog, type CatalogDemo, type CatalogTable, type EventMap, type EventSpec, type EphemeralSpec } from './catalog.ts'
export type { AccessRule, FollowRule, MembershipRule, OwnerRule, RoleRule, SelfRule, Revoker } from './access-rule.ts'
export type { DraftEvent, Row, RowChange } from './row-change.ts'
export type { IdShape } from './topic-pattern.ts'
export { changed, idValue, isNull, jsonValue } from './values.ts'
