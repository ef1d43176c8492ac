// Which reader a path needs: from its extension, or for a folder from its layout.
import { readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { AlignkitError } from '../../errors.js';
import { isSavedDataset } from './save-to-disk.js';
import type { DatasetFormat } from './types.js';

// The extensions `datasets` maps to these loaders, plus the other names Arrow IPC files go by.
const EXTENSIONS: Readonly<Record<string, DatasetFormat>> = {
  '.jsonl': 'jsonl',
  '.ndjson': 'jsonl',
  '.json': 'json',
  '.parquet': 'parquet',
  '.csv': 'csv',
  '.arrow': 'arrow',
  '.arrows': 'arrow',
  '.ipc': 'arrow',
  '.feather': 'arrow',
};

/**
 * The format of a data file from its extension; for a folder, `arrow` when it holds a
 * `save_to_disk` Dataset or DatasetDict, else the one format of the data files in it.
 */
export function detectFormat(path: string): DatasetFormat {
  const format = formatOfName(path);
  if (format) return format;
  if (isDirectory(path)) return isSavedDataset(path) ? 'arrow' : dataFilesIn(path).format;
  throw new AlignkitError(
    'ERR_INVALID_DATA',
    `${path}: unknown data file extension '${extname(path)}'; supported: ${Object.keys(EXTENSIONS).join(', ')} ` +
      `or a datasets save_to_disk folder (pass format to read another name)`,
  );
}

/**
 * The data files directly in `dir`, sorted by name, all of `format` (default: the one format found).
 * Hidden files and `_`-prefixed ones (`_SUCCESS`, `_metadata`) are not data.
 */
export function dataFilesIn(dir: string, format?: DatasetFormat): { format: DatasetFormat; files: string[] } {
  const names = readdirSync(dir, { withFileTypes: true })
    .filter((entry) => !entry.isDirectory() && !/^[._]/.test(entry.name))
    .map((entry) => entry.name)
    .sort();
  const byFormat = new Map<DatasetFormat, string[]>();
  for (const name of names) {
    const nameFormat = formatOfName(name);
    if (!nameFormat || (format && nameFormat !== format)) continue;
    byFormat.set(nameFormat, [...(byFormat.get(nameFormat) ?? []), join(dir, name)]);
  }
  const [found, ...others] = byFormat.entries();
  if (!found) {
    const wanted = format ? `${format} files` : `data files (${Object.keys(EXTENSIONS).join(', ')})`;
    throw new AlignkitError(
      'ERR_NOT_FOUND',
      `${dir}: no ${wanted}, and no save_to_disk state.json or dataset_dict.json`,
    );
  }
  if (others.length > 0) {
    const formats = [found, ...others].map(([name, files]) => `${files.length} ${name}`).join(', ');
    throw new AlignkitError(
      'ERR_INVALID_DATA',
      `${dir}: holds data files of several formats (${formats}); pass format to pick one`,
    );
  }
  return { format: found[0], files: found[1] };
}

function formatOfName(path: string): DatasetFormat | undefined {
  return EXTENSIONS[extname(path).toLowerCase()];
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    throw new AlignkitError('ERR_NOT_FOUND', `${path}: no such file or folder`);
  }
}
