// Token and mask rows as the addon takes them: one flat typed array and its (batch, seqLen) shape, checked.
import { AlignkitError } from './errors.js';
import type { IndexArray, MaskRows, TokenRows } from './types/tensor.js';

/** A batch's values, row-major, and its shape. */
export interface Rows<T> {
  data: T;
  batch: number;
  seqLen: number;
}

/** `rows` as one flat array: a typed array split into rows of `seqLen` (one row without it), or equal-length rows packed. */
export function toRows(
  name: string,
  rows: TokenRows | MaskRows,
  seqLen: number | undefined,
): Rows<Int32Array | IndexArray> {
  if (!Array.isArray(rows)) {
    const len = seqLen ?? rows.length;
    if (len <= 0 || rows.length % len !== 0) {
      throw new AlignkitError(
        'ERR_INVALID_ARG',
        `${name}: ${rows.length} values do not split into rows of seqLen ${len}`,
      );
    }
    return { data: rows, batch: rows.length / len, seqLen: len };
  }
  const width = rows[0]?.length ?? 0;
  if (rows.length === 0 || width === 0)
    throw new AlignkitError('ERR_INVALID_ARG', `${name}: expected at least one non-empty row`);
  const data = new Int32Array(rows.length * width);
  rows.forEach((row, i) => {
    if (row.length !== width)
      throw new AlignkitError('ERR_INVALID_ARG', `${name}: row ${i} has ${row.length} values, row 0 has ${width}`);
    data.set(row, i * width);
  });
  return { data, batch: rows.length, seqLen: width };
}

/** A companion of inputIds (mask, labels, positions) flattened and checked to have `shape`; null when absent. */
export function matching(name: string, rows: TokenRows | MaskRows | undefined, shape: Rows<unknown>) {
  if (rows === undefined) return null;
  const r = toRows(name, rows, shape.seqLen);
  if (r.batch !== shape.batch || r.seqLen !== shape.seqLen) {
    throw new AlignkitError(
      'ERR_INVALID_ARG',
      `${name}: shape (${r.batch}, ${r.seqLen}) differs from inputIds (${shape.batch}, ${shape.seqLen})`,
    );
  }
  return r.data;
}
