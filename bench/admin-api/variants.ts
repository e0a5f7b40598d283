/** Candidate changes measured with --what-if, each in its own server process against the unchanged real route. */
export const WHAT_IFS = {
  embedded: {
    whatIfTokenCache: 'what-if: principal cached by raw token',
    whatIfJsonText: 'what-if: detail cached as JSON text',
    whatIfOneRoute: 'what-if: only this route mounted',
    whatIfAll: 'what-if: all three',
  },
  mysqlRedis: {
    whatIfSingleFlight: 'what-if (MySQL + Redis): single-flight cache misses',
    whatIfLocalIpLimit: 'what-if (MySQL + Redis): per-IP limit in process',
    whatIfMysqlRedisBoth: 'what-if (MySQL + Redis): both',
  },
} as const

/** One of them. */
export type Variant = keyof typeof WHAT_IFS.embedded | keyof typeof WHAT_IFS.mysqlRedis
