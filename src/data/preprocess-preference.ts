// Preference data from file to token table: read rows (streaming), normalise each to prompt/chosen/rejected,
// tokenize as TRL 1.13's DPOTrainer does, and store untruncated ids as an Arrow IPC file. A table whose
// fingerprint (data, tokenizer files, settings) matches is reused instead of tokenized again.
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Table } from 'apache-arrow';
import type { DpoConfig } from '../config/load-config.js';
import { AlignkitError } from '../errors.js';
import { Tokenizer } from '../tokenizer/index.js';
import { requireRows } from './empty-split.js';
import { fingerprint } from './fingerprint.js';
import { lengthStats, rowLengths, type LengthStats } from './length-stats.js';
import { toPreferenceExample, type PreferenceExample } from './preference-rows.js';
import { RankedPairer } from './ranked/ranked-pairs.js';
import { mapColumns } from './row-context.js';
import { readRows } from './readers/index.js';
import { buildTable, IdColumnBuilder, idColumn, readArrowFile, writeArrowFile } from './token-table.js';
import { tokenizePreferences, type PreferenceTokenizeStats } from './tokenize-preference.js';

/** Bump when the table layout or tokenization changes, so old caches are not reused. */
const FORMAT_VERSION = 1;
/** Rows tokenized per encodeBatch call: large enough to keep the Rust tokenizer's threads busy. */
const CHUNK_ROWS = 1024;

export interface PreprocessSummary {
  path: string;
  rows: number;
  /** Rows TRL drops: prompt alone fills max_length under keep_start. */
  dropped: number;
  /** Invalid rows skipped under skip_invalid_rows. */
  skipped: number;
  prefixMismatches: number;
  cached: boolean;
  lengths: { prompt: LengthStats; chosen: LengthStats; rejected: LengthStats };
}

export interface PreprocessOptions {
  split: 'train' | 'eval';
  /** Messages for the user (skipped rows, TRL's tokenization warnings). */
  log?: (message: string) => void;
  /** A trainer's (or evaluation's) call: a split left without rows is an error naming each reason's count (empty-split.ts). */
  refuseEmpty?: boolean;
}

type PreprocessConfig = Pick<
  DpoConfig,
  | 'model_name_or_path'
  | 'train_dataset'
  | 'eval_dataset'
  | 'output_dir'
  | 'max_length'
  | 'truncation_mode'
  | 'max_prompt_length'
  | 'max_completion_length'
  | 'chat_template'
  | 'dataset_columns'
  | 'skip_invalid_rows'
> &
  // Ranked rows (src/data/ranked) become pairs under ranked_pairing; absent: pairs as they are.
  Partial<Pick<DpoConfig, 'ranked_pairing' | 'ranked_score_field' | 'seed'>>;

function required(
  config: PreprocessConfig,
  key: 'model_name_or_path' | 'output_dir' | 'train_dataset' | 'eval_dataset',
): string {
  const value = config[key];
  if (!value) throw new AlignkitError('ERR_INVALID_CONFIG', `config: '${key}' is required to preprocess`);
  return value;
}

async function summarize(
  table: Table,
  path: string,
  counts: Omit<PreprocessSummary, 'path' | 'rows' | 'lengths'>,
): Promise<PreprocessSummary> {
  const length = (name: string) => lengthStats(rowLengths(idColumn(table, name)));
  return {
    path,
    rows: table.numRows,
    ...counts,
    lengths: { prompt: length('prompt_ids'), chosen: length('chosen_ids'), rejected: length('rejected_ids') },
  };
}

export async function preprocessPreferences(
  config: PreprocessConfig,
  options: PreprocessOptions,
): Promise<PreprocessSummary> {
  const log = options.log ?? (() => {});
  const modelDir = required(config, 'model_name_or_path');
  const dataPath = required(config, options.split === 'train' ? 'train_dataset' : 'eval_dataset');
  const outputDir = required(config, 'output_dir');
  const path = join(outputDir, `${options.split}.arrow`);
  const settings = {
    FORMAT_VERSION,
    max_length: config.max_length,
    truncation_mode: config.truncation_mode,
    max_prompt_length: config.max_prompt_length,
    max_completion_length: config.max_completion_length,
    chat_template: config.chat_template,
    dataset_columns: config.dataset_columns,
    skip_invalid_rows: config.skip_invalid_rows,
    ...(config.ranked_pairing && {
      ranked_pairing: config.ranked_pairing,
      ranked_score_field: config.ranked_score_field,
      seed: config.seed,
    }),
  };
  const key = await fingerprint([dataPath, modelDir], settings);
  const droppedWhy = `the prompt alone fills max_length=${config.max_length} (truncation_mode keep_start)`;
  const metaPath = `${path}.json`;
  if (existsSync(path) && existsSync(metaPath)) {
    const meta = JSON.parse(await readFile(metaPath, 'utf8'));
    if (meta.fingerprint === key) {
      const cachedTable = await readArrowFile(path);
      if (options.refuseEmpty)
        requireRows({ rows: cachedTable.numRows, ...meta.counts }, options.split, dataPath, droppedWhy);
      return summarize(cachedTable, path, { ...meta.counts, cached: true });
    }
  }

  const tokenizer = await Tokenizer.load(modelDir, { chatTemplate: config.chat_template ?? undefined });
  const builders = {
    prompt_ids: new IdColumnBuilder(),
    chosen_ids: new IdColumnBuilder(),
    rejected_ids: new IdColumnBuilder(),
  };
  const stats: PreferenceTokenizeStats = { dropped: 0, prefixMismatches: 0 };
  let skipped = 0;
  const skip = (error: AlignkitError) => {
    skipped++;
    log(`skipped: ${error.message}`);
  };

  const flush = async (chunk: PreferenceExample[]) => {
    for (const ids of await tokenizePreferences(chunk, tokenizer, config, stats)) {
      if (!ids) continue;
      builders.prompt_ids.push(ids.prompt_ids);
      builders.chosen_ids.push(ids.chosen_ids);
      builders.rejected_ids.push(ids.rejected_ids);
    }
  };

  if (config.ranked_pairing === 'listwise')
    throw new AlignkitError('ERR_INVALID_CONFIG', 'ranked_pairing: listwise keeps whole rankings: it makes no pairs');
  const pairer =
    config.ranked_pairing &&
    new RankedPairer({
      ranked_pairing: config.ranked_pairing,
      ranked_score_field: config.ranked_score_field ?? 'overall_score',
      seed: config.seed ?? 42,
    });
  // While the Rust tokenizer's threads encode one chunk, this thread reads and checks the next.
  let chunk: PreferenceExample[] = [];
  let encoding: Promise<void> = Promise.resolve();
  for await (const { values, file, row } of readRows(dataPath, {
    skipInvalidRows: config.skip_invalid_rows,
    onSkip: skip,
  })) {
    try {
      const mapped = mapColumns(values, config.dataset_columns);
      chunk.push(...(pairer ? pairer.pairs(mapped, { file, row }) : [toPreferenceExample(mapped, { file, row })]));
    } catch (err) {
      if (!(err instanceof AlignkitError) || !config.skip_invalid_rows) throw err;
      skip(err);
    }
    if (chunk.length >= CHUNK_ROWS) {
      await encoding;
      encoding = flush(chunk);
      encoding.catch(() => {}); // handled: awaited above or after the loop, which rethrows
      chunk = [];
    }
  }
  await encoding;
  await flush(chunk);

  if (stats.prefixMismatches > 0) {
    log(
      `warning: in ${stats.prefixMismatches} row(s) the tokenized prompt is not the start of the tokenized ` +
        'prompt+completion (tokenizer merges across the boundary, whitespace or special tokens); TRL warns the same way',
    );
  }
  if (stats.dropped > 0)
    log(
      `dropped ${stats.dropped} row(s) whose prompt alone fills max_length=${config.max_length} (keep_start), as TRL does`,
    );
  if (skipped > 0) log(`skipped ${skipped} invalid row(s) (skip_invalid_rows: true)`);
  if (pairer && pairer.tied > 0)
    log(`ranked_pairing: ${pairer.tied} row(s) whose answers all have one score give no pair`);

  if (options.refuseEmpty)
    requireRows(
      { rows: builders.prompt_ids.length, dropped: stats.dropped, skipped },
      options.split,
      dataPath,
      droppedWhy,
    );
  const table = buildTable(builders);
  await mkdir(outputDir, { recursive: true });
  await writeArrowFile(table, path);
  const counts = { dropped: stats.dropped, skipped, prefixMismatches: stats.prefixMismatches };
  await writeFile(metaPath, JSON.stringify({ fingerprint: key, counts }, null, 2) + '\n');
  return summarize(table, path, { ...counts, cached: false });
}
