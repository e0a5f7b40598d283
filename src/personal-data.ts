import { CORE_PERSONAL_DATA } from './adapters/db/core.entity'
import type { DeclaredPersonalData, PersonalDataDeclaration } from './kernel/personal-data'

/**
 * Every personal-data declaration of the program: the core tables' and each feature's, in registry order.
 * Retention purges, erasure, the residue scan and the data map all walk this one list.
 */
export function declaredPersonalData(features: ReadonlyArray<{ name: string; personalData?: PersonalDataDeclaration }>): DeclaredPersonalData[] {
  const out: DeclaredPersonalData[] = [{ owner: 'core', declaration: CORE_PERSONAL_DATA }]
  for (const f of features) if (f.personalData) out.push({ owner: f.name, declaration: f.personalData })
  return out
}
