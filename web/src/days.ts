/** The day `n` days after `day` (YYYY-MM-DD; calendar arithmetic, so no timezone is involved). */
export function addDays(day: string, n: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10)
}
