import fs from 'node:fs/promises'
import { pathToFileURL } from 'node:url'
import type { CatalogSelection } from '../config.ts'
import { CatalogError } from '../errors.ts'
import { BUILTIN_CATALOGS } from './builtin.ts'
import type { Catalog } from './catalog.ts'
import { checkCatalogShape } from './validate.ts'

/**
 * The catalog WALCAST_CATALOG selects: a built-in one, or the default (or `catalog`)
 * export of the user's module. A .ts module works as is: compiled walcast registers tsx
 * for it (only then, so a JavaScript catalog costs no compiler at start-up).
 * Refused here, before any database work, unless its shape is right.
 */
export async function loadCatalog(selection: CatalogSelection): Promise<Catalog> {
  if (selection.kind === 'builtin') return checkCatalogShape(await BUILTIN_CATALOGS[selection.name]!(), selection.name)
  const file = selection.path
  if (!(await fs.stat(file).then((s) => s.isFile(), () => false))) {
    throw new CatalogError(file, 'no such file', 'WALCAST_CATALOG is the name of a built-in catalog or the path of a module, absolute or relative to the working directory')
  }
  let module: { default?: unknown; catalog?: unknown }
  try {
    if (/\.[cm]?ts$/.test(file) && !import.meta.url.endsWith('.ts')) (await import('tsx/esm/api')).register()
    module = await import(pathToFileURL(file).href) as typeof module
  } catch (err) {
    throw new CatalogError(file, `the module failed to load: ${(err as Error).message.split('\n')[0]}`, `run node --import tsx ${file} to see the full error`, { cause: err })
  }
  const exported = module.default ?? module.catalog
  if (exported === undefined) throw new CatalogError(file, 'the module exports no catalog', 'export default defineCatalog({ … }) (or export const catalog)')
  return checkCatalogShape(exported, file)
}
