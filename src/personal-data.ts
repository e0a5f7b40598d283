import { CORE_PERSONAL_DATA } from './adapters/db/core.entity'
import type { Feature } from './adapters/db/feature-store'
import type { DeclaredPersonalData } from './kernel/personal-data'

/**
 * Every personal-data declaration of the program: the core tables' and each feature's, in registry order.
 * Retention purges, erasure, the residue scan and the data map all walk this one list.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- features of different rule and config types side by side
export function declaredPersonalData(features: ReadonlyArray<Feature<any, any>>): DeclaredPersonalData[] {
  const out: DeclaredPersonalData[] = [{ owner: 'core', declaration: CORE_PERSONAL_DATA }]
  for (const f of features) if (f.personalData) out.push({ owner: f.name, declaration: f.personalData })
  return out
}
