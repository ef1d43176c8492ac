// A split with no row left, for a trainer, an evaluation or `alignkit preprocess` (refuseEmpty), is refused where it is
// tokenized, with the count of rows behind each reason: a run on no data would "train" on nothing and write the input
// model back as if it had learned. (TRL's own tokenization returns the empty table, which the parity tests compare.)
import { AlignkitError } from '../errors.js';

export interface SplitCounts {
  /** Rows of the token table. */
  rows: number;
  /** Rows the trainer's tokenization drops (TRL drops them too), for `droppedWhy`. */
  dropped: number;
  /** Invalid rows skipped under skip_invalid_rows. */
  skipped: number;
}

/** Throws ERR_INVALID_DATA naming the file and each reason's count when the split's table holds no row. */
export function requireRows(summary: SplitCounts, split: 'train' | 'eval', dataPath: string, droppedWhy: string): void {
  if (summary.rows > 0) return;
  const key = split === 'train' ? 'train_dataset' : 'eval_dataset';
  const read = summary.dropped + summary.skipped;
  const counts = [
    ...(summary.dropped ? [`${summary.dropped} dropped because ${droppedWhy}`] : []),
    ...(summary.skipped ? [`${summary.skipped} skipped as invalid (skip_invalid_rows: true)`] : []),
  ];
  const reasons = read === 0 ? 'the dataset holds no rows' : `all ${read} row(s) were left out: ${counts.join(', ')}`;
  throw new AlignkitError(
    'ERR_INVALID_DATA',
    `${key} ${dataPath}: no rows to ${split === 'train' ? 'train' : 'evaluate'} on (${reasons})`,
  );
}
