// Dataset readers: JSON Lines/JSON, Parquet, CSV and Arrow (files and datasets' save_to_disk folders).
export { detectFormat } from './detect-format.js';
export { readRows } from './read-rows.js';
export type { DatasetFormat, ReadOptions, SourceRow } from './types.js';
