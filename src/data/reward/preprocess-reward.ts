// Reward-model data from file to token table: read rows (streaming), normalise each to prompt/chosen/rejected
// (+ margin), tokenize as TRL 1.13's RewardTrainer does and drop pairs over max_length, and store the ids (and the
// margins) as an Arrow IPC file. A table whose fingerprint (data, tokenizer files, settings) matches is reused.
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Float32, makeData, Table, Vector } from 'apache-arrow';
import type { RewardConfig } from '../../config/load-config.js';
import { AlignkitError, configError } from '../../errors.js';
import type { Tokenizer } from '../../tokenizer/index.js';
import { requireRows } from '../empty-split.js';
import { fingerprint } from '../fingerprint.js';
import { mapColumns } from '../row-context.js';
import { readRows } from '../readers/index.js';
import { buildTable, IdColumnBuilder, writeArrowFile } from '../token-table.js';
import { toRewardExample, type RewardExample } from './reward-rows.js';
import { tokenizeRewardPairs } from './tokenize-reward.js';

/** Bump when the table layout or tokenization changes, so old caches are not reused. */
const FORMAT_VERSION = 1;
const CHUNK_ROWS = 1024;

type RewardPreprocessConfig = Pick<
  RewardConfig,
  'train_dataset' | 'eval_dataset' | 'output_dir' | 'max_length' | 'dataset_columns' | 'skip_invalid_rows'
>;

export interface RewardPreprocessOptions {
  split: 'train' | 'eval';
  /** The tokenizer with RewardTrainer's chat template, and the EOS text appended to plain-text completions. */
  tokenizer: Tokenizer;
  eosToken: string;
  /** Files the tokenizer was read from (the fingerprint's inputs). */
  tokenizerDir: string;
  log?: (message: string) => void;
}

export interface RewardTableFile {
  path: string;
  rows: number;
  /** Pairs dropped because a side is longer than max_length. */
  dropped: number;
}

export async function preprocessReward(
  config: RewardPreprocessConfig,
  options: RewardPreprocessOptions,
): Promise<RewardTableFile> {
  const log = options.log ?? (() => {});
  const key = options.split === 'train' ? 'train_dataset' : 'eval_dataset';
  const dataPath = config[key];
  if (!dataPath) throw configError(`'${key}' is required`);
  const path = join(config.output_dir!, `reward-${options.split}.arrow`);
  const settings = {
    FORMAT_VERSION,
    max_length: config.max_length,
    dataset_columns: config.dataset_columns,
    skip_invalid_rows: config.skip_invalid_rows,
    eos: options.eosToken,
    chat_template: options.tokenizer.chatTemplate ?? null,
  };
  const print = await fingerprint([dataPath, options.tokenizerDir], settings);
  const droppedWhy = `chosen or rejected is longer than max_length=${config.max_length} tokens`;
  const metaPath = `${path}.json`;
  if (existsSync(path) && existsSync(metaPath)) {
    const meta = JSON.parse(await readFile(metaPath, 'utf8'));
    if (meta.fingerprint === print) {
      requireRows(meta.counts, options.split, dataPath, droppedWhy);
      return { path, rows: meta.counts.rows, dropped: meta.counts.dropped };
    }
  }

  const chosen = new IdColumnBuilder();
  const rejected = new IdColumnBuilder();
  const margins: number[] = [];
  const stats = { dropped: 0 };
  let skipped = 0;
  const skip = (error: AlignkitError) => {
    skipped++;
    log(`skipped: ${error.message}`);
  };
  const flush = async (chunk: RewardExample[]) => {
    for (const ids of await tokenizeRewardPairs(
      chunk,
      options.tokenizer,
      { max_length: config.max_length, eosToken: options.eosToken },
      stats,
    )) {
      if (!ids) continue;
      chosen.push(ids.chosen_ids);
      rejected.push(ids.rejected_ids);
      if (ids.margin !== undefined) margins.push(ids.margin);
    }
  };

  let withMargin: boolean | undefined;
  let chunk: RewardExample[] = [];
  for await (const { values, file, row } of readRows(dataPath, {
    skipInvalidRows: config.skip_invalid_rows,
    onSkip: skip,
  })) {
    const mapped = mapColumns(values, config.dataset_columns);
    withMargin ??= 'margin' in mapped;
    try {
      chunk.push(toRewardExample(mapped, { file, row }, withMargin));
    } catch (err) {
      if (!(err instanceof AlignkitError) || !config.skip_invalid_rows) throw err;
      skip(err);
    }
    if (chunk.length === CHUNK_ROWS) {
      await flush(chunk);
      chunk = [];
    }
  }
  await flush(chunk);
  if (stats.dropped > 0)
    log(`dropped ${stats.dropped} pair(s) longer than max_length=${config.max_length}, as TRL does`);
  if (skipped > 0) log(`skipped ${skipped} invalid row(s) (skip_invalid_rows: true)`);

  const counts = { rows: chosen.length, dropped: stats.dropped, skipped };
  requireRows(counts, options.split, dataPath, droppedWhy);
  let table = buildTable({ chosen_ids: chosen, rejected_ids: rejected });
  if (withMargin) {
    const data = makeData({ type: new Float32(), length: margins.length, data: Float32Array.from(margins) });
    table = table.assign(new Table({ margin: new Vector([data]) }));
  }
  await mkdir(config.output_dir!, { recursive: true });
  await writeArrowFile(table, path);
  await writeFile(metaPath, JSON.stringify({ fingerprint: print, counts }, null, 2) + '\n');
  return { path, ...counts };
}
