import type { MigrationInterface, QueryRunner, TableColumn } from 'typeorm'
import { isMysql } from './columns'

/**
 * SQLite only: declare the spellings TypeORM's entity metadata uses, so entities and tables agree.
 *
 * The earlier migrations declared counters as `int` and boolean defaults as `true` / `false`. TypeORM
 * always writes (and compares against) `integer` and `1` / `0` on SQLite, and no entity option renders
 * `int`, so every such column showed up as a pending change. In SQLite the two spellings are the same
 * thing: `int` and `integer` both have INTEGER affinity, and `true` / `false` are the literals 1 / 0; only
 * the declared text in the schema changes. SQLite cannot alter a column's declaration in place, so each
 * affected table is rebuilt (copy, drop, rename, indexes recreated) inside the migration's transaction.
 * MySQL stores both spellings identically (`int`, `tinyint` default 1 / 0) and is left as it is.
 */
export class AlignSqliteColumns1796158900000 implements MigrationInterface {
  name = 'AlignSqliteColumns1796158900000'

  async up(q: QueryRunner): Promise<void> {
    if (isMysql(q)) return
    // Every table of the application at this point of the history (TypeORM's own tables start otherwise).
    const names = (await q.query(`SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'qy\\_%' ESCAPE '\\' ORDER BY name`) as Array<{ name: string }>)
      .map((row) => row.name)
    for (const table of await q.getTables(names)) {
      const changes: Array<{ oldColumn: TableColumn; newColumn: TableColumn }> = []
      for (const column of table.columns) {
        const aligned = alignColumn(column)
        if (aligned) changes.push({ oldColumn: column, newColumn: aligned })
      }
      if (changes.length === 0) continue
      // A rebuilt AUTOINCREMENT table restarts its sequence at the highest remaining id; keep the old
      // high-water mark so ids of deleted rows are never handed out again (SQLite-only bookkeeping table).
      const sequence = (await q.query(`SELECT seq FROM sqlite_sequence WHERE name = ?`, [table.name]) as Array<{ seq: number }>)[0]?.seq
      await q.changeColumns(table, changes)
      if (sequence !== undefined) {
        await q.query(`DELETE FROM sqlite_sequence WHERE name = ?`, [table.name])
        await q.query(`INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)`, [table.name, sequence])
      }
    }
  }

  async down(): Promise<void> {
    // Nothing to undo: the old and new declarations mean the same column to SQLite.
  }
}

/** The column as TypeORM's metadata spells it, or undefined when it already is. */
function alignColumn(column: TableColumn): TableColumn | undefined {
  const type = column.type === 'int' ? 'integer' : column.type
  const boolDefault: Record<string, string> = { true: '1', false: '0' }
  const defaultValue = column.type === 'boolean' && typeof column.default === 'string' && column.default.toLowerCase() in boolDefault
    ? boolDefault[column.default.toLowerCase()]
    : column.default
  if (type === column.type && defaultValue === column.default) return undefined
  const aligned = column.clone()
  aligned.type = type
  aligned.default = defaultValue
  return aligned
}
