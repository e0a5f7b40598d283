/** Whether an error is a unique-key violation (SQLite and MySQL / MariaDB). */
export function isDuplicate(error: unknown): boolean {
  const e = error as { code?: string; errno?: number; message?: string } | null
  if (!e) return false
  return e.code === 'ER_DUP_ENTRY' || e.errno === 1062 || /SQLITE_CONSTRAINT_(PRIMARYKEY|UNIQUE)/.test(String(e.code ?? ''))
    || /UNIQUE constraint failed/.test(String(e.message ?? ''))
}

/** Whether an error is a deadlock the server resolved by rolling the transaction back (MySQL / MariaDB): redo it. */
export function isDeadlock(error: unknown): boolean {
  const e = error as { code?: string; errno?: number; driverError?: { code?: string; errno?: number } } | null
  return !!e && (e.code === 'ER_LOCK_DEADLOCK' || e.errno === 1213 || e.driverError?.code === 'ER_LOCK_DEADLOCK' || e.driverError?.errno === 1213)
}

/** Error codes of a database that cannot be reached (mysql2 / Node sockets): the work can be retried later. */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN',
  'PROTOCOL_CONNECTION_LOST', 'PROTOCOL_SEQUENCE_TIMEOUT', 'ER_CON_COUNT_ERROR', 'ER_SERVER_SHUTDOWN', 'POOL_CLOSED',
  'ER_QUERY_INTERRUPTED', 'ER_LOCK_WAIT_TIMEOUT', 'SQLITE_BUSY',
])

/**
 * Whether an error means the database could not be reached or answer (connection refused, lost, timed
 * out), as opposed to a statement it rejected. Such work is retried once the database is back.
 */
export function isUnavailable(error: unknown): boolean {
  for (let e = error as { code?: string; driverError?: unknown; cause?: unknown; message?: string } | null, depth = 0; e && depth < 4; depth++) {
    if (typeof e.code === 'string' && UNAVAILABLE_CODES.has(e.code)) return true
    if (/Connection lost|connect ECONNREFUSED|closed state|Pool is closed|Can't add new command when connection is in closed state/i.test(String(e.message ?? ''))) return true
    e = (e.driverError ?? e.cause ?? null) as typeof e
  }
  return false
}
