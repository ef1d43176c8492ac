// Parquet through hyparquet, one row group in memory at a time (snappy, gzip, zstd, brotli, lz4 via
// hyparquet-compressors).
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetSchema } from 'hyparquet';
import type { FileMetaData } from 'hyparquet';
import { AlignkitError } from '../../errors.js';
import { checkColumns } from './columns.js';
import { plainValue } from './plain-values.js';
import { fileError, rejectRow } from './read-errors.js';
import type { ReadOptions, SourceRow } from './types.js';

/** The rows of a Parquet file, row group by row group; values as plain JS (see {@link plainValue}). */
export async function* readParquet(path: string, options: ReadOptions): AsyncGenerator<SourceRow> {
  // Imported here, not with alignkit: hyparquet-compressors instantiates WebAssembly on import, for which V8 reserves
  // ~10 GB of address space, and a run under `ulimit -v` (as clusters set) must not lose it to a format it does not read.
  const { compressors } = await import('hyparquet-compressors').catch((error: unknown) => {
    throw new AlignkitError(
      'ERR_NATIVE',
      `${path}: the Parquet decompressors could not start (${(error as Error).message}); their ` +
        'WebAssembly reserves ~10 GB of address space: raise `ulimit -v`, or convert the dataset to JSON lines',
      { cause: error },
    );
  });
  const file = await asyncBufferFromFile(path);
  let metadata: FileMetaData;
  try {
    metadata = await parquetMetadataAsync(file);
  } catch (error) {
    throw fileError(path, 'not a Parquet file', error);
  }
  const { columns } = options;
  if (columns)
    checkColumns(
      columns,
      parquetSchema(metadata).children.map((child) => child.element.name),
      path,
    );
  let rowStart = 0;
  for (const group of metadata.row_groups) {
    const rowEnd = rowStart + Number(group.num_rows);
    // utf8: false keeps unannotated BYTE_ARRAY (binary) as bytes; string columns are still decoded.
    const records = await parquetReadObjects({
      file,
      metadata,
      columns,
      rowStart,
      rowEnd,
      compressors,
      utf8: false,
    }).catch((error: unknown) => {
      throw fileError(path, `unreadable row group of rows ${rowStart}..${rowEnd - 1}`, error);
    });
    for (const [i, record] of records.entries()) {
      const values = plainRow(record, path, rowStart + i, options);
      if (values) yield { values, file: path, row: rowStart + i };
    }
    rowStart = rowEnd;
  }
}

function plainRow(
  record: Record<string, unknown>,
  file: string,
  row: number,
  options: ReadOptions,
): Record<string, unknown> | undefined {
  try {
    return Object.fromEntries(
      Object.entries(record).map(([name, value]) => [name, plainValue(value, { file, row }, name)]),
    );
  } catch (error) {
    if (!(error instanceof AlignkitError)) throw error;
    rejectRow(error, options);
    return undefined;
  }
}
