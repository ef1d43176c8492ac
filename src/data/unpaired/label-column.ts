// KTO's `label` column: one Arrow bool per row, as datasets stores it, read back as 0/1 bytes.
import { Bool, vectorFromArray, type Table, type Vector } from 'apache-arrow';
import { AlignkitError } from '../../errors.js';

export function labelVector(labels: boolean[]): Vector<Bool> {
  return vectorFromArray(labels, new Bool());
}

/** 1 for a desirable row, 0 for an undesirable one. */
export function labelColumn(table: Table): Uint8Array {
  const vector = table.getChild('label');
  if (!vector)
    throw new AlignkitError(
      'ERR_INVALID_DATA',
      `table has no column 'label' (columns: ${table.schema.fields.map((f) => f.name).join(', ')})`,
    );
  return Uint8Array.from(vector.toArray() as ArrayLike<boolean>, Number);
}
