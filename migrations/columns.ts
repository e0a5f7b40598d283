import type { QueryRunner, TableColumnOptions } from 'typeorm'

/** Whether a migration runs on MySQL / MariaDB (otherwise SQLite). */
export function isMysql(q: QueryRunner): boolean {
  return q.connection.driver.options.type === 'mysql' || q.connection.driver.options.type === 'mariadb'
}

/**
 * Portable column builders for migrations: TypeORM's Table API renders them for SQLite and MySQL alike.
 * On MySQL strings carry utf8mb4 + binary collation (Chinese text and emoji; ids compare exactly),
 * whatever the server's default charset; SQLite stores UTF-8 and compares bytes already.
 * Their output is frozen (installed databases ran it): on SQLite `int` declares `int` and `bool` a
 * `true` / `false` default, spellings TypeORM's entity metadata never uses (AlignSqliteColumns rewrote
 * them). A new migration declares `int(name, { type: 'integer' })` and boolean defaults as 1 / 0.
 */
export function columns(q: QueryRunner) {
  const mysql = isMysql(q)
  const enc = (): Partial<TableColumnOptions> => (mysql ? { charset: 'utf8mb4', collation: 'utf8mb4_bin' } : {})
  return {
    str: (name: string, length: number, extra: Partial<TableColumnOptions> = {}): TableColumnOptions =>
      ({ name, type: 'varchar', length: String(length), ...enc(), ...extra }),
    text: (name: string, nullable = false): TableColumnOptions => ({ name, type: 'text', ...enc(), isNullable: nullable }),
    int: (name: string, extra: Partial<TableColumnOptions> = {}): TableColumnOptions => ({ name, type: 'int', default: 0, ...extra }),
    ms: (name: string, nullable = false): TableColumnOptions => ({ name, type: 'bigint', isNullable: nullable }),
    bool: (name: string, value = true): TableColumnOptions => ({ name, type: 'boolean', default: value }),
    id: (): TableColumnOptions => ({ name: 'id', type: 'integer', isPrimary: true, isGenerated: true, generationStrategy: 'increment' }),
  }
}
