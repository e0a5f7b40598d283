/** The groups feature's process configuration. */
export interface GroupsConfig {
  /** Timezone of groups seen for the first time (owners change it per group). */
  timezone: string
  /** Whether room invitations are accepted at all. */
  acceptInvitations: boolean
  /** Inviter ids (or names) whose invitations are accepted; empty = everyone. */
  inviterAllowlist: string[]
  /** How long a group's detail view is cached (its activity cannot be fresher than the last flush). */
  detailCacheMs: number
}
