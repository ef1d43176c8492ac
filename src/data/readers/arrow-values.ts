// Values out of apache-arrow vectors (Vector, StructRow, MapRow, bigint) as plain JS, guided by the Arrow type.
import { DataType } from 'apache-arrow';
import { safeNumber, type RowPlace } from './plain-values.js';

/**
 * `value` (what `vector.get(i)` returned) as plain JS: lists as arrays, structs and maps as objects,
 * int64 as a number when exact (else an error naming `field`), dates and timestamps as `Date` (as the
 * Parquet reader gives them), binary as `Uint8Array`.
 */
export function arrowValue(value: unknown, type: DataType, place: RowPlace, field: string): unknown {
  if (value === null || value === undefined) return null;
  if (DataType.isDictionary(type)) return arrowValue(value, type.dictionary, place, field);
  if (DataType.isList(type) || DataType.isLargeList(type) || DataType.isFixedSizeList(type)) {
    const itemType = type.children[0]!.type;
    return Array.from(value as Iterable<unknown>, (item, i) => arrowValue(item, itemType, place, `${field}[${i}]`));
  }
  if (DataType.isStruct(type)) {
    const struct = value as Record<string, unknown>;
    return Object.fromEntries(
      type.children.map((child) => [
        child.name,
        arrowValue(struct[child.name], child.type, place, `${field}.${child.name}`),
      ]),
    );
  }
  if (DataType.isMap(type)) {
    const entries = Array.from(value as Iterable<[unknown, unknown]>);
    return Object.fromEntries(
      entries.map(([key, item]) => [String(key), arrowValue(item, type.valueType, place, `${field}.${String(key)}`)]),
    );
  }
  if (DataType.isDate(type) || DataType.isTimestamp(type)) return new Date(Number(value));
  if (typeof value === 'bigint') return safeNumber(value, place, field);
  return value;
}
