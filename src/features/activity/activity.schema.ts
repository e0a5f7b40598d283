import { z } from 'zod'

/** Query of a group's activity: how many days back (today included). */
export const ActivityQuery = z.strictObject({ days: z.coerce.number().int().min(1).max(90).default(7) })
