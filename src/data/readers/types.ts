// The shapes every dataset reader shares: the formats, one row as read, and the read options.
import type { AlignkitError } from '../../errors.js';

/** The file formats alignkit reads datasets from (`json` and `jsonl` share one reader, as in `datasets`). */
export type DatasetFormat = 'jsonl' | 'json' | 'parquet' | 'csv' | 'arrow';

/** One row as read from a data file, before any field is checked. */
export interface SourceRow {
  /** Column name → value, as plain JS (strings, numbers, booleans, null, arrays, objects). */
  values: Record<string, unknown>;
  /** The data file, or for a `save_to_disk` folder the folder (its `.arrow` shards are one dataset). */
  file: string;
  /**
   * 0-based index of the row within `file`, as `datasets` numbers rows (blank JSONL lines and the CSV
   * header are not rows). Skipped rows keep their numbers, so the next good row's number jumps past them.
   */
  row: number;
}

export interface ReadOptions {
  /**
   * Format of the file(s); by default from the extension (.jsonl/.ndjson, .json, .parquet, .csv,
   * .arrow/.arrows/.ipc/.feather) or, for a folder, from its layout (see {@link detectFormat}).
   */
  format?: DatasetFormat;
  /** false (default): an unreadable row throws. true: it is skipped and handed to `onSkip`. */
  skipInvalidRows?: boolean;
  /** Called once per skipped row; without it a skipped row is reported with `process.emitWarning`. */
  onSkip?: (error: AlignkitError) => void;
  /**
   * Only these columns. Parquet and Arrow read only these from disk; there, and in a CSV header, a column
   * the file lacks is an error. A JSON file has no schema: each row keeps the named keys it has.
   */
  columns?: string[];
  /** Which split of a `DatasetDict.save_to_disk` folder to read; default `train`. */
  split?: string;
}
