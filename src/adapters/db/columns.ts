import type { ColumnOptions, ValueTransformer } from 'typeorm'

/** bigint columns come back as strings from mysql2; times and counters are numbers here. */
const bigintAsNumber: ValueTransformer = {
  to: (value: number | null | undefined) => value,
  from: (value: string | number | null) => (value === null || value === undefined ? null : Number(value)),
}

/** A millisecond timestamp column (portable across SQLite and MySQL, no timezone surprises). */
export function msColumn(name: string, nullable = false): ColumnOptions {
  return { name, type: 'bigint', nullable, transformer: bigintAsNumber }
}

/** JSON stored as text (portable), parsed on read. */
export function jsonColumn(name: string, nullable = false): ColumnOptions {
  return {
    name, type: 'text', nullable,
    transformer: {
      to: (value: unknown) => (value === undefined || value === null ? null : JSON.stringify(value)),
      from: (value: string | null) => (value === null ? null : (JSON.parse(value) as unknown)),
    },
  }
}
