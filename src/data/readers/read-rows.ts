// readRows: one entry point over every reader — a data file, a save_to_disk folder, or a folder of files.
import { stat } from 'node:fs/promises';
import { AlignkitError } from '../../errors.js';
import { readArrow } from './arrow.js';
import { readCsv } from './csv.js';
import { dataFilesIn, detectFormat } from './detect-format.js';
import { readJson } from './json.js';
import { readParquet } from './parquet.js';
import { isSavedDataset, readSavedDataset } from './save-to-disk.js';
import type { DatasetFormat, ReadOptions, SourceRow } from './types.js';

/**
 * The rows of a dataset, streamed: every reader holds one line, CSV chunk, Parquet row group or Arrow
 * record batch at a time (a .json array is the exception: it is parsed whole, as `datasets` does).
 * `path` is a data file, a `save_to_disk` Dataset/DatasetDict folder, or a folder of data files of one
 * format, read in sorted name order (each file numbering its own rows).
 */
export async function* readRows(path: string, options: ReadOptions = {}): AsyncGenerator<SourceRow> {
  const stats = await stat(path).catch(() => {
    throw new AlignkitError('ERR_NOT_FOUND', `${path}: no such file or folder`);
  });
  if (!stats.isDirectory()) {
    refuseNonRegular(path, stats.isFile());
    yield* readFile(path, options.format ?? detectFormat(path), options);
  } else if ((options.format === undefined || options.format === 'arrow') && isSavedDataset(path)) {
    yield* readSavedDataset(path, options);
  } else {
    const { format, files } = dataFilesIn(path, options.format);
    for (const file of files) {
      refuseNonRegular(file, (await stat(file)).isFile());
      yield* readFile(file, format, options);
    }
  }
}

/** A device or pipe (/dev/zero, a FIFO) would be read forever or block: only regular files are data files. */
function refuseNonRegular(path: string, isFile: boolean): void {
  if (!isFile)
    throw new AlignkitError(
      'ERR_INVALID_DATA',
      `${path}: not a regular file (a device, pipe or socket); a dataset is a data file or a folder of them`,
    );
}

function readFile(path: string, format: DatasetFormat, options: ReadOptions): AsyncGenerator<SourceRow, unknown> {
  switch (format) {
    case 'jsonl':
    case 'json':
      return readJson(path, format, options);
    case 'parquet':
      return readParquet(path, options);
    case 'csv':
      return readCsv(path, options);
    case 'arrow':
      return readArrow(path, options);
  }
}
