/** Whether an error is a unique-key violation (SQLite and MySQL / MariaDB). */
export function isDuplicate(error: unknown): boolean {
  const e = error as { code?: string; errno?: number; message?: string } | null
  if (!e) return false
  return e.code === 'ER_DUP_ENTRY' || e.errno === 1062 || /SQLITE_CONSTRAINT_(PRIMARYKEY|UNIQUE)/.test(String(e.code ?? ''))
    || /UNIQUE constraint failed/.test(String(e.message ?? ''))
}
