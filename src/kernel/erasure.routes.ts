import { z } from 'zod'
import { UnknownMemberError, type LogLines, type Needle, type ResidueFinding } from './erasure'
import { dataMap, type DataMapEntry, type ErasureReceipt, type ErasureService } from './erasure'
import type { DeclaredPersonalData } from './personal-data'
import { defineRoute, GroupId, groupNotFound, HttpError, type RouteDefinition } from './routes'

const MemberId = z.string().min(1).max(191)
const MemberParams = z.strictObject({ memberId: MemberId })
const Flag = z.enum(['1', '0', 'true', 'false']).transform((v) => v === '1' || v === 'true')
const EraseQuery = z.strictObject({
  groupId: GroupId.optional(),
  dryRun: Flag.optional(),
})
const ResidueQuery = z.strictObject({
  /** Names and message texts to look for besides the id (they are gone from the tables after erasure). */
  name: z.union([z.string().min(2).max(255), z.array(z.string().min(2).max(255)).max(20)]).optional(),
  text: z.union([z.string().min(2).max(2000), z.array(z.string().min(2).max(2000)).max(20)]).optional(),
})

/** What the erasure routes need. */
export interface ErasureRouteDeps {
  erasure: ErasureService
  declared: readonly DeclaredPersonalData[]
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- TypeORM entity constructors of any shape
  tableOf(entity: Function): string
  logFiles: readonly string[]
  readLog: LogLines
}

const list = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v])

/**
 * Personal-data routes: erase a member (admins everywhere; owners in their own groups only), preview an
 * erasure, the residue scan (admins), the data map (what is stored, per data class).
 */
export function erasureRoutes(d: ErasureRouteDeps): RouteDefinition[] {
  return [
    defineRoute({
      method: 'DELETE', path: '/api/v1/members/:memberId',
      summary: 'Erase a member (admins: everywhere; owners: from their own groups\' data only); ?groupId= limits it to one group, ?dryRun=1 only counts; 404 unknown_member when no declared table holds a row of this member in the caller\'s scope (nothing is touched)',
      params: MemberParams, query: EraseQuery,
      access: { roles: ['admin', 'owner'], mutates: true },
      auditPath: (params) => `/api/v1/members/${d.erasure.pseudonym(params.memberId)}`,
      async handler({ params, query, auth, audit }): Promise<ErasureReceipt> {
        let groupIds: string[] | undefined
        if (auth && auth.role !== 'admin') {
          // An owner: their granted groups only, never another owner's (a group outside them is "no such group").
          if (query.groupId !== undefined && !auth.scope.has(query.groupId)) throw groupNotFound()
          groupIds = query.groupId !== undefined ? [query.groupId] : [...auth.scope.groupIds].sort()
        } else if (query.groupId !== undefined) groupIds = [query.groupId]
        let receipt: ErasureReceipt
        try {
          receipt = await d.erasure.erase(params.memberId, { ...(groupIds ? { groupIds } : {}), dryRun: query.dryRun === true })
        } catch (error) {
          // Not a member known in the caller's scope: nothing is touched (no keys, no rows), whoever asks.
          if (error instanceof UnknownMemberError) throw new HttpError(404, 'unknown_member', error.message)
          throw error
        }
        audit({ target: `member:${receipt.pseudonym}`, after: { dryRun: receipt.dryRun, scope: receipt.scope, removed: receipt.removed, pseudonymised: receipt.pseudonymised } })
        return receipt
      },
    }),
    defineRoute({
      method: 'GET', path: '/api/v1/members/:memberId/residue',
      summary: 'Residue scan (admins): every table, every coordination key and the configured log files searched for the member id and the given names and texts',
      params: MemberParams, query: ResidueQuery,
      access: { roles: ['admin'], mutates: false },
      async handler({ params, query }): Promise<{ pseudonym: string; searched: Record<Needle['kind'], number>; logFiles: number; clean: boolean; findings: ResidueFinding[] }> {
        const needles = await d.erasure.needles(params.memberId, { names: list(query.name), texts: list(query.text) })
        const findings = await d.erasure.residue(needles, d.logFiles, d.readLog)
        const searched = { 'member id': 0, name: 0, 'message text': 0 }
        for (const n of needles) searched[n.kind]++
        return { pseudonym: d.erasure.pseudonym(params.memberId), searched, logFiles: d.logFiles.length, clean: findings.length === 0, findings }
      },
    }),
    defineRoute({
      method: 'GET', path: '/api/v1/data-map',
      summary: 'What qunyun stores about members: every table with its data class, purpose, columns and what erasure does',
      access: { roles: ['admin', 'owner', 'operator'], mutates: false },
      async handler(): Promise<{ tables: DataMapEntry[] }> {
        return { tables: dataMap(d.declared, d.tableOf) }
      },
    }),
  ]
}
