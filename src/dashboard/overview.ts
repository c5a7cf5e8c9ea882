import type { Catalog, DashboardRow } from '../catalog/catalog.ts'
import { ID_SHAPES } from '../catalog/topic-pattern.ts'
import type { Db } from '../db/database.ts'

/** Rows on the page at most: the latest ones, so a user with thousands stays one query. */
export const OVERVIEW_LIMIT = 50

export interface Overview {
  readonly catalog: string
  readonly title: string
  readonly columns: readonly { readonly key: string; readonly label: string }[]
  readonly rows: readonly DashboardRow[]
  /** Every topic the page subscribes to, with what it is. */
  readonly topics: readonly { readonly topic: string; readonly label: string }[]
  readonly notifications: readonly string[]
  readonly summaries: Readonly<Record<string, string>>
}

export type OverviewCatalog = Pick<Catalog, 'name' | 'userId' | 'dashboard'>

/**
 * What the dashboard shows one user of the running catalog. A subject outside the
 * catalog's user id shape names no user: an empty overview, never a query with it.
 */
export async function overviewFor(db: Db, catalog: OverviewCatalog, userId: string): Promise<Overview> {
  const view = catalog.dashboard
  const known = ID_SHAPES[catalog.userId ?? 'int8'].test(userId)
  const rows = view !== undefined && known ? await view.list(db, userId, OVERVIEW_LIMIT) : []
  const follow = known && view?.follow !== undefined ? { topic: view.follow.replace('{id}', userId), label: 'all of them' } : undefined
  const own = known ? (view?.userTopics ?? []).map((pattern) => ({ topic: pattern.replace('{id}', userId), label: 'yours' })) : []
  const roles = known ? await rolesOf(db, catalog, userId) : []
  const broadcasts = roles.flatMap((role) => {
    const topic = view?.roleTopics?.[role]
    return topic === undefined ? [] : [{ topic, label: `every ${role}` }]
  })
  return {
    catalog: catalog.name,
    title: view?.title ?? catalog.name,
    columns: Object.entries(view?.columns ?? {}).map(([key, label]) => ({ key, label })),
    rows,
    // One follow set for every row, or (a catalog without one) a topic per row shown.
    topics: [...own, ...broadcasts, ...(follow !== undefined ? [follow] : rows.map((row) => ({ topic: row.topic, label: `#${row.id}` })))],
    notifications: view?.notifications ?? [],
    summaries: view?.summaries ?? {},
  }
}

/** The roles the catalog's dashboard says the user holds (none when it does not say). */
export async function rolesOf(db: Db, catalog: OverviewCatalog, userId: string): Promise<readonly string[]> {
  return catalog.dashboard?.roles === undefined ? [] : catalog.dashboard.roles(db, userId)
}
