// Unpaired preference data (KTO, BCO) from file to token table: read rows (streaming), normalise each to
// prompt/completion/label (unpairing chosen/rejected pairs), tokenize as TRL 1.13's KTOTrainer._prepare_dataset
// does (or BCOTrainer's _tokenize/_process_tokens, tokenize-bco.ts), add the KL completions of KTO's loss_type
// 'kto', and store the ids (untruncated for KTO) and labels as an Arrow IPC file.
// A table whose fingerprint (data, tokenizer files, settings) matches is reused instead of tokenized again.
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Table } from 'apache-arrow';
import type { KtoConfig } from '../../config/load-config.js';
import { AlignkitError, configError } from '../../errors.js';
import { Tokenizer } from '../../tokenizer/index.js';
import { fingerprint } from '../fingerprint.js';
import { requireRows } from '../empty-split.js';
import { lengthStats, rowLengths, type LengthStats } from '../length-stats.js';
import type { PreferenceExample } from '../preference-rows.js';
import type { PreprocessOptions, PreprocessSummary } from '../preprocess-preference.js';
import { readRows } from '../readers/index.js';
import { dataError, mapColumns } from '../row-context.js';
import { MAP_BATCH_ROWS, mapBatches } from '../sft/pack-sft.js';
import { buildTable, IdColumnBuilder, idColumn, readArrowFile, writeArrowFile } from '../token-table.js';
import { labelColumn, labelVector } from './label-column.js';
import { tokenizeBco } from './tokenize-bco.js';
import { klCompletions, tokenizeUnpaired, type UnpairedIds, type UnpairedTokenizeStats } from './tokenize-unpaired.js';
import { toUnpairedRow, unpairBatch, type UnpairedExample } from './unpaired-rows.js';

/** Bump when the table layout or tokenization changes, so old caches are not reused. */
const FORMAT_VERSION = 1;
/** Rows tokenized per encodeBatch call: large enough to keep the Rust tokenizer's threads busy. */
const CHUNK_ROWS = 1024;

/** As DPO's summary (`dropped`: rows whose prompt alone fills max_length), with the label counts. */
export interface UnpairedPreprocessSummary extends Omit<PreprocessSummary, 'lengths'> {
  /** Rows labelled true / false. */
  desirable: number;
  undesirable: number;
  lengths: { prompt: LengthStats; completion: LengthStats };
}

type KtoPreprocessConfig = Pick<
  KtoConfig,
  | 'model_name_or_path'
  | 'train_dataset'
  | 'eval_dataset'
  | 'output_dir'
  | 'max_length'
  | 'max_prompt_length'
  | 'max_completion_length'
  | 'chat_template'
  | 'dataset_columns'
  | 'skip_invalid_rows'
  | 'loss_type'
  | 'per_device_train_batch_size'
  | 'train_sampling_strategy'
  | 'dataset_num_proc'
  | 'desirable_weight'
  | 'undesirable_weight'
>;
/** BCOTrainer's keys of the same (BCOConfig has no KL term, loss weights or sampling strategy). */
type BcoPreprocessConfig = Pick<
  KtoConfig,
  | 'model_name_or_path'
  | 'train_dataset'
  | 'eval_dataset'
  | 'output_dir'
  | 'max_length'
  | 'chat_template'
  | 'dataset_columns'
  | 'skip_invalid_rows'
  | 'per_device_train_batch_size'
  | 'dataset_num_proc'
> & { trainer: 'bco' };
type PreprocessConfig = KtoPreprocessConfig | BcoPreprocessConfig;
const isBco = (config: PreprocessConfig): config is BcoPreprocessConfig =>
  'trainer' in config && config.trainer === 'bco';

/** The tokenizer folder, data file and output folder the split needs. */
function locations(config: PreprocessConfig, split: PreprocessOptions['split']): [string, string, string] {
  const keys = ['model_name_or_path', split === 'train' ? 'train_dataset' : 'eval_dataset', 'output_dir'] as const;
  const missing = keys.find((key) => !config[key]);
  if (missing) throw configError(`'${missing}' is required to preprocess`);
  return keys.map((key) => config[key]!) as [string, string, string];
}

/** Loss types that estimate the KL term need KL completions (all but apo_zero_unpaired, as TRL's calculate_KL). */
export const usesKl = (config: Pick<KtoConfig, 'loss_type'>): boolean => config.loss_type !== 'apo_zero_unpaired';
const klRows = (config: PreprocessConfig) => !isBco(config) && usesKl(config);

/** The checks KTOTrainer.__init__ makes before it prepares the data. */
function checkSettings(config: PreprocessConfig): void {
  if (isBco(config) || !usesKl(config)) return;
  if (config.train_sampling_strategy !== 'sequential') {
    throw configError(
      `loss_type '${config.loss_type}' estimates the KL term from each row's neighbours in a batch and needs ` +
        `train_sampling_strategy 'sequential' (as TRL requires), got '${config.train_sampling_strategy}'`,
    );
  }
  if (config.per_device_train_batch_size <= 1) {
    throw configError(
      `loss_type '${config.loss_type}' needs per_device_train_batch_size > 1: with one row a batch, the KL ` +
        'term would equal the implied reward (as TRL requires)',
    );
  }
}

/** TRL's warning when desirable_weight/undesirable_weight are outside the range Eq. (8) of the KTO paper suggests. */
function balanceWarning(labels: Uint8Array, config: KtoPreprocessConfig): string | undefined {
  const desirable = Math.max(
    labels.reduce((n, l) => n + l, 0),
    1,
  );
  const undesirable = Math.max(labels.length - desirable, 1);
  if (desirable === undesirable) return undefined;
  const r2 = (x: number) => Number(x.toFixed(2));
  const { desirable_weight: dw, undesirable_weight: uw } = config;
  const des = [r2((undesirable * uw) / desirable), r2(((undesirable * uw) / desirable) * 1.33)] as const;
  const und = [r2((desirable * dw) / undesirable / 1.33), r2((desirable * dw) / undesirable)] as const;
  if ((des[0] <= dw && dw <= des[1]) || (und[0] <= uw && uw <= und[1])) return undefined;
  return (
    `warning: ${desirable} desirable and ${undesirable} undesirable rows, but the loss weights are outside the range ` +
    `the KTO paper suggests: set EITHER desirable_weight in [${des[0]}, ${des[1]}] OR undesirable_weight in [${und[0]}, ${und[1]}] ` +
    '(not both); TRL warns the same way'
  );
}

type Counts = Pick<UnpairedPreprocessSummary, 'dropped' | 'skipped' | 'prefixMismatches'>;

function summarize(table: Table, path: string, counts: Counts, cached: boolean): UnpairedPreprocessSummary {
  const length = (name: string) => lengthStats(rowLengths(idColumn(table, name)));
  const desirable = labelColumn(table).reduce((n, l) => n + l, 0);
  return {
    path,
    rows: table.numRows,
    ...counts,
    cached,
    desirable,
    undesirable: table.numRows - desirable,
    lengths: { prompt: length('prompt_ids'), completion: length('completion_ids') },
  };
}

export async function preprocessUnpaired(
  config: PreprocessConfig,
  options: PreprocessOptions,
): Promise<UnpairedPreprocessSummary> {
  const log = options.log ?? (() => {});
  const [modelDir, dataPath, outputDir] = locations(config, options.split);
  checkSettings(config);
  const kl = klRows(config);
  const bco = isBco(config);
  const path = join(outputDir, `${options.split}.arrow`);
  const settings = {
    FORMAT_VERSION,
    max_length: config.max_length,
    max_prompt_length: bco ? null : config.max_prompt_length,
    max_completion_length: bco ? null : config.max_completion_length,
    tokenization: bco ? 'bco' : 'kto',
    chat_template: config.chat_template,
    dataset_columns: config.dataset_columns,
    skip_invalid_rows: config.skip_invalid_rows,
    kl_batch_size: kl ? config.per_device_train_batch_size : null,
    dataset_num_proc: config.dataset_num_proc,
  };
  const key = await fingerprint([dataPath, modelDir], settings);
  const droppedWhy = `the prompt alone fills max_length=${config.max_length}`;
  const metaPath = `${path}.json`;
  if (existsSync(path) && existsSync(metaPath)) {
    const meta = JSON.parse(await readFile(metaPath, 'utf8'));
    if (meta.fingerprint === key) {
      const cachedTable = await readArrowFile(path);
      if (options.refuseEmpty)
        requireRows({ rows: cachedTable.numRows, ...meta.counts }, options.split, dataPath, droppedWhy);
      return summarize(cachedTable, path, meta.counts, true);
    }
  }

  const tokenizer = await Tokenizer.load(modelDir, { chatTemplate: config.chat_template ?? undefined });
  const stats: UnpairedTokenizeStats = { dropped: 0, prefixMismatches: 0 };
  const counts: Counts = { dropped: 0, skipped: 0, prefixMismatches: 0 };
  const skip = (error: AlignkitError) => {
    counts.skipped++;
    log(`skipped: ${error.message}`);
  };

  const builders: Record<string, IdColumnBuilder> = {
    prompt_ids: new IdColumnBuilder(),
    completion_ids: new IdColumnBuilder(),
  };
  if (kl) builders.KL_completion_ids = new IdColumnBuilder();
  const labels: boolean[] = [];
  const write = (rows: UnpairedIds[], klIds?: number[][]) =>
    rows.forEach((row, i) => {
      builders.prompt_ids!.push(row.prompt_ids);
      builders.completion_ids!.push(row.completion_ids);
      if (klIds) builders.KL_completion_ids!.push(klIds[i]!);
      labels.push(row.label);
    });

  // TRL's datasets.map calls run on dataset_num_proc contiguous shards, each in its own batches: 1,000 pairs for
  // unpairing, per_device_train_batch_size kept rows for the KL rotation. Rows stream through one shard; several
  // shards need the row count first, so everything waits until the file is read.
  const shards = config.dataset_num_proc ?? 1;
  const klBatch = config.per_device_train_batch_size;
  const kept: UnpairedIds[] = [];
  const tokenize = async (examples: UnpairedExample[]) => {
    for (let i = 0; i < examples.length; i += CHUNK_ROWS) {
      const chunk = examples.slice(i, i + CHUNK_ROWS);
      const rows = bco
        ? await tokenizeBco(chunk, tokenizer, config, stats)
        : await tokenizeUnpaired(chunk, tokenizer, config, stats);
      if (!kl) {
        write(rows);
        continue;
      }
      kept.push(...rows);
      while (shards === 1 && kept.length >= klBatch) {
        const batch = kept.splice(0, klBatch);
        write(batch, klCompletions(batch));
      }
    }
  };

  let first: { paired: boolean; row: number } | undefined;
  const pairs: PreferenceExample[] = [];
  let examples: UnpairedExample[] = [];
  for await (const { values, file, row } of readRows(dataPath, {
    skipInvalidRows: config.skip_invalid_rows,
    onSkip: skip,
  })) {
    try {
      const unpaired = toUnpairedRow(mapColumns(values, config.dataset_columns), { file, row });
      first ??= { paired: unpaired.paired, row };
      if (unpaired.paired !== first.paired) {
        const kind = (paired: boolean) =>
          paired ? 'a preference pair (chosen/rejected)' : 'an unpaired row (prompt/completion/label)';
        throw dataError(
          { file, row },
          undefined,
          `is ${kind(unpaired.paired)} but row ${first.row} is ${kind(first.paired)}: a dataset holds one format`,
        );
      }
      if (unpaired.paired) pairs.push(unpaired.pair);
      else examples.push(unpaired.example);
    } catch (err) {
      if (!(err instanceof AlignkitError) || err.code !== 'ERR_INVALID_DATA' || !config.skip_invalid_rows) throw err;
      skip(err);
    }
    if (shards === 1 && pairs.length === MAP_BATCH_ROWS) await tokenize(unpairBatch(pairs.splice(0)));
    if (examples.length === CHUNK_ROWS) {
      await tokenize(examples);
      examples = [];
    }
  }
  for (const [start, end] of mapBatches(pairs.length, shards)) await tokenize(unpairBatch(pairs.slice(start, end)));
  await tokenize(examples);
  for (const [start, end] of mapBatches(kept.length, shards, klBatch)) {
    const batch = kept.slice(start, end);
    write(batch, klCompletions(batch));
  }

  counts.dropped = stats.dropped;
  counts.prefixMismatches = stats.prefixMismatches;
  if (stats.prefixMismatches > 0) {
    log(
      `warning: in ${stats.prefixMismatches} row(s) the tokenized prompt is not the start of the tokenized ` +
        'prompt+completion (tokenizer merges across the boundary, whitespace or special tokens); TRL warns the same way',
    );
  }
  if (stats.dropped > 0)
    log(`dropped ${stats.dropped} row(s) whose prompt alone fills max_length=${config.max_length}, as TRL does`);
  if (counts.skipped > 0) log(`skipped ${counts.skipped} invalid row(s) (skip_invalid_rows: true)`);

  if (options.refuseEmpty) requireRows({ rows: labels.length, ...counts }, options.split, dataPath, droppedWhy);
  const table = buildTable(builders).assign(new Table({ label: labelVector(labels) }));
  if (options.split === 'train' && !bco) {
    const warning = balanceWarning(labelColumn(table), config);
    if (warning) log(warning);
  }
  await mkdir(outputDir, { recursive: true });
  await writeArrowFile(table, path);
  await writeFile(metaPath, JSON.stringify({ fingerprint: key, counts }, null, 2) + '\n');
  return summarize(table, path, counts, false);
}
