// Folders written by `datasets`: Dataset.save_to_disk (state.json naming its Arrow stream shards) and
// DatasetDict.save_to_disk (dataset_dict.json listing splits, one such folder each).
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AlignkitError } from '../../errors.js';
import { readArrow } from './arrow.js';
import { fileError } from './read-errors.js';
import type { ReadOptions, SourceRow } from './types.js';

/** Whether `dir` holds a Dataset or DatasetDict written by save_to_disk. */
export function isSavedDataset(dir: string): boolean {
  return existsSync(join(dir, 'state.json')) || existsSync(join(dir, 'dataset_dict.json'));
}

/**
 * The rows of a saved Dataset, numbered across its shards as `load_from_disk(dir)[row]` numbers them and
 * reported with the folder as their file; for a DatasetDict, those of `options.split` (default `train`).
 */
export async function* readSavedDataset(dir: string, options: ReadOptions): AsyncGenerator<SourceRow> {
  if (existsSync(join(dir, 'dataset_dict.json'))) {
    yield* readSavedDataset(await splitDir(dir, options.split ?? 'train'), options);
    return;
  }
  let row = 0;
  for (const shard of await shardPaths(dir)) row += yield* readArrow(shard, options, dir, row);
}

async function splitDir(dir: string, split: string): Promise<string> {
  const path = join(dir, 'dataset_dict.json');
  const splits = ((await readJsonFile(path)) as { splits?: unknown }).splits;
  if (!Array.isArray(splits)) throw fileError(path, 'expected {"splits": [...]}');
  if (!splits.includes(split)) {
    throw new AlignkitError(
      'ERR_NOT_FOUND',
      `${dir}: no split '${split}' in this DatasetDict (splits: ${splits.join(', ')})`,
    );
  }
  return join(dir, split);
}

async function shardPaths(dir: string): Promise<string[]> {
  const path = join(dir, 'state.json');
  const dataFiles = ((await readJsonFile(path)) as { _data_files?: unknown })._data_files;
  const names = Array.isArray(dataFiles)
    ? dataFiles.map((entry) => (entry as { filename?: unknown } | null)?.filename)
    : [];
  if (!Array.isArray(dataFiles) || !names.every((name): name is string => typeof name === 'string')) {
    throw fileError(path, 'expected "_data_files": [{"filename": "data-00000-of-00001.arrow"}, ...]');
  }
  const shards = names.map((name) => join(dir, name));
  const missing = shards.find((shard) => !existsSync(shard));
  if (missing !== undefined) throw new AlignkitError('ERR_NOT_FOUND', `${missing}: no such file (listed in ${path})`);
  return shards;
}

async function readJsonFile(path: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw fileError(path, 'invalid JSON', error);
  }
}
