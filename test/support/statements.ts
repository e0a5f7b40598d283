import type { QueryRunner } from 'typeorm'
import type { Chat } from './chat'

/** Records every SQL statement the runtime's database runs from now on (both dialects: all go through a QueryRunner). */
export function recordStatements(chat: Chat): { statements: string[]; stop: () => void } {
  const db = chat.runtime.db
  const statements: string[] = []
  const original = db.createQueryRunner.bind(db)
  // A driver may hand out the same runner again (better-sqlite3 has one connection): wrap each runner once.
  const wrapped = new WeakSet<QueryRunner>()
  db.createQueryRunner = (...args: Parameters<typeof original>): QueryRunner => {
    const runner = original(...args)
    if (wrapped.has(runner)) return runner
    wrapped.add(runner)
    const query = runner.query.bind(runner)
    runner.query = ((sql: string, ...rest: unknown[]) => {
      statements.push(sql)
      return (query as (...a: unknown[]) => unknown)(sql, ...rest)
    }) as QueryRunner['query']
    return runner
  }
  return { statements, stop: () => { db.createQueryRunner = original } }
}
