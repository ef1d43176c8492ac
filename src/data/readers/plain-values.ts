// Decoded column values as plain JS: int64 becomes a number only where a double holds it exactly.
import { rowError } from './read-errors.js';

/** The row a value belongs to, for error messages. */
export interface RowPlace {
  file: string;
  row: number;
}

/** `value` as a number, or an ERR_INVALID_DATA naming file, row and field when it is beyond ±(2^53 - 1). */
export function safeNumber(value: bigint, place: RowPlace, field: string): number {
  const n = Number(value);
  if (Number.isSafeInteger(n)) return n;
  throw rowError(
    place.file,
    place.row,
    undefined,
    `field '${field}': expected an integer within ±(2^53 - 1) (what a JS number holds exactly), got ${value}`,
  );
}

/**
 * A value as hyparquet assembles it (arrays for lists, objects for structs and maps, bigint for int64)
 * with every bigint checked and turned into a number. `field` is the path used in errors (`ids[2]`).
 */
export function plainValue(value: unknown, place: RowPlace, field: string): unknown {
  if (value === undefined || value === null) return null;
  if (typeof value === 'bigint') return safeNumber(value, place, field);
  if (Array.isArray(value)) return value.map((item, i) => plainValue(item, place, `${field}[${i}]`));
  if (Object.getPrototypeOf(value) === Object.prototype) {
    const entries = Object.entries(value as Record<string, unknown>);
    return Object.fromEntries(entries.map(([key, item]) => [key, plainValue(item, place, `${field}.${key}`)]));
  }
  return value;
}
