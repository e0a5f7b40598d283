import type { QueryRunner, TableColumnOptions } from 'typeorm'

/**
 * Portable column builders for migrations: TypeORM's Table API renders them for SQLite and MySQL alike.
 * On MySQL strings carry utf8mb4 + binary collation (Chinese text and emoji; ids compare exactly),
 * whatever the server's default charset; SQLite stores UTF-8 and compares bytes already.
 */
export function columns(q: QueryRunner) {
  const mysql = q.connection.driver.options.type === 'mysql' || q.connection.driver.options.type === 'mariadb'
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
