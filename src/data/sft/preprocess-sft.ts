// SFT data from file to token table: read rows (streaming), normalise each to one of TRL's SFT formats, tokenize
// as TRL 1.13's SFTTrainer._prepare_dataset does (labels built from the completion / assistant masks), then
// truncate to max_length or pack, and store `input_ids`, `labels` (and `seq_lengths` for bfd packing) as an
// Arrow IPC file. A table whose fingerprint (data, tokenizer files, settings) matches is reused.
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Table } from 'apache-arrow';
import type { SftConfig } from '../../config/load-config.js';
import { AlignkitError, configError } from '../../errors.js';
import { Tokenizer } from '../../tokenizer/index.js';
import { fingerprint } from '../fingerprint.js';
import { requireRows } from '../empty-split.js';
import { lengthStats, rowLengths, type LengthStats } from '../length-stats.js';
import { dataError, mapColumns } from '../row-context.js';
import { readRows } from '../readers/index.js';
import { epochOrder } from '../sampler.js';
import { buildTable, IdColumnBuilder, idColumn, readArrowFile, writeArrowFile, type IdColumn } from '../token-table.js';
import { MAP_BATCH_ROWS, mapBatches, packBatch, type PackedSftIds } from './pack-sft.js';
import { isConversational, toSftExample, type SftExample } from './sft-rows.js';
import {
  resolveCompletionOnlyLoss,
  SftTokenizer,
  truncateSft,
  type SftIds,
  type SftTokenizeStats,
} from './tokenize-sft.js';

/** Bump when the table layout or tokenization changes, so old caches are not reused. */
const FORMAT_VERSION = 1;
/** Rows tokenized per encodeBatch call: large enough to keep the Rust tokenizer's threads busy. */
const CHUNK_ROWS = 1024;

export interface SftPreprocessSummary {
  path: string;
  /** Rows of the table: examples, or packed rows when packing. */
  rows: number;
  /** Examples tokenized (before truncation drops and packing). */
  examples: number;
  /** Examples TRL drops: no label left after truncation to max_length (not packing). */
  dropped: number;
  /** Invalid rows skipped under skip_invalid_rows. */
  skipped: number;
  prefixMismatches: number;
  packed: boolean;
  cached: boolean;
  /** Tokens per table row, and tokens per row that carry a label (take part in the loss). */
  lengths: { input_ids: LengthStats; trained: LengthStats };
}

export interface SftPreprocessOptions {
  split: 'train' | 'eval';
  /** Messages for the user (skipped rows, TRL's tokenization warnings). */
  log?: (message: string) => void;
  /** A trainer's call: a split left without rows is an error naming each reason's count (empty-split.ts). */
  refuseEmpty?: boolean;
}

type PreprocessConfig = Pick<
  SftConfig,
  | 'model_name_or_path'
  | 'train_dataset'
  | 'eval_dataset'
  | 'output_dir'
  | 'max_length'
  | 'truncation_mode'
  | 'chat_template'
  | 'chat_template_path'
  | 'dataset_columns'
  | 'skip_invalid_rows'
  | 'dataset_text_field'
  | 'eos_token'
  | 'packing'
  | 'packing_strategy'
  | 'eval_packing'
  | 'padding_free'
  | 'completion_only_loss'
  | 'assistant_only_loss'
  | 'shuffle_dataset'
  | 'seed'
  | 'dataset_num_proc'
>;

function required(
  config: PreprocessConfig,
  key: 'model_name_or_path' | 'output_dir' | 'train_dataset' | 'eval_dataset',
): string {
  const value = config[key];
  if (!value) throw configError(`'${key}' is required to preprocess`);
  return value;
}

/** The chat template option: TRL's chat_template_path (a .jinja/.j2 file) or alignkit's chat_template. */
export function chatTemplateOption(
  config: Pick<SftConfig, 'chat_template' | 'chat_template_path'>,
): string | undefined {
  const path = config.chat_template_path;
  if (path === null) return config.chat_template ?? undefined;
  if (!/\.(jinja|j2)$/.test(path)) {
    throw configError(
      `chat_template_path '${path}': only a .jinja or .j2 file is supported (TRL's clone_chat_template ` +
        'from another tokenizer is not); use chat_template for a named template',
    );
  }
  if (config.chat_template !== null) throw configError('set chat_template or chat_template_path, not both');
  return path;
}

/** The checks SFTTrainer.__init__ and _prepare_dataset make before touching the data. */
function checkSettings(config: PreprocessConfig, packing: boolean): void {
  if (packing && config.max_length === null)
    throw configError('packing needs max_length (TRL: "When packing is enabled, `max_length` can\'t be `None`")');
  if (config.padding_free && !config.packing && config.max_length !== null) {
    throw configError(
      'padding_free without packing does not enforce max_length: enable packing (e.g. packing_strategy: bfd) ' +
        'or set max_length: null, as TRL requires',
    );
  }
}

function trainedLengths(labels: IdColumn): Int32Array {
  const n = labels.offsets.length - 1;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    for (let t = labels.offsets[i]!; t < labels.offsets[i + 1]!; t++) if (labels.values[t] !== -100) out[i]!++;
  }
  return out;
}

type Counts = Omit<SftPreprocessSummary, 'path' | 'rows' | 'lengths' | 'cached'>;

function summarize(table: Table, path: string, counts: Counts, cached: boolean): SftPreprocessSummary {
  return {
    path,
    rows: table.numRows,
    ...counts,
    cached,
    lengths: {
      input_ids: lengthStats(rowLengths(idColumn(table, 'input_ids'))),
      trained: lengthStats(trainedLengths(idColumn(table, 'labels'))),
    },
  };
}

/** datasets' shuffle(seed) stands here as alignkit's seeded shuffle (a different permutation than numpy's). */
const shuffled = <T>(rows: T[], seed: number): T[] =>
  epochOrder(rows.length, { seed, epoch: 0, shuffle: true }).map((i) => rows[i]!);

export async function preprocessSft(
  config: PreprocessConfig,
  options: SftPreprocessOptions,
): Promise<SftPreprocessSummary> {
  const log = options.log ?? (() => {});
  const modelDir = required(config, 'model_name_or_path');
  const dataPath = required(config, options.split === 'train' ? 'train_dataset' : 'eval_dataset');
  const outputDir = required(config, 'output_dir');
  const packing = options.split === 'train' ? config.packing : (config.eval_packing ?? config.packing);
  checkSettings(config, packing);
  const chatTemplate = chatTemplateOption(config);
  const path = join(outputDir, `${options.split}.arrow`);
  const settings = {
    FORMAT_VERSION,
    packing,
    max_length: config.max_length,
    truncation_mode: config.truncation_mode,
    chat_template: chatTemplate,
    dataset_columns: config.dataset_columns,
    skip_invalid_rows: config.skip_invalid_rows,
    dataset_text_field: config.dataset_text_field,
    eos_token: config.eos_token,
    packing_strategy: packing ? config.packing_strategy : null,
    completion_only_loss: config.completion_only_loss,
    assistant_only_loss: config.assistant_only_loss,
    shuffle_seed: config.shuffle_dataset ? config.seed : null,
    dataset_num_proc: packing ? config.dataset_num_proc : null,
  };
  const key = await fingerprint(
    [dataPath, modelDir, ...(chatTemplate && existsSync(chatTemplate) ? [chatTemplate] : [])],
    settings,
  );
  const droppedWhy = `no trained token is left within max_length=${config.max_length}`;
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

  const tokenizer = await Tokenizer.load(modelDir, { chatTemplate });
  const stats: SftTokenizeStats = { prefixMismatches: 0 };
  const counts: Counts = { examples: 0, dropped: 0, skipped: 0, prefixMismatches: 0, packed: packing };
  const skip = (error: AlignkitError) => {
    counts.skipped++;
    log(`skipped: ${error.message}`);
  };

  const seqLengths = packing && config.packing_strategy !== 'wrapped';
  const builders: Record<string, IdColumnBuilder> = { input_ids: new IdColumnBuilder(), labels: new IdColumnBuilder() };
  if (seqLengths) builders.seq_lengths = new IdColumnBuilder();
  // Packing goes 1,000 rows at a time, as TRL's map batches; all rows wait only where packing needs the whole
  // dataset (shuffled first, or cut into dataset_num_proc shards). shuffle_dataset also shuffles the output.
  const buffered = packing && (config.shuffle_dataset || (config.dataset_num_proc ?? 1) > 1);
  const output: PackedSftIds[] = [];
  const emit = (row: PackedSftIds) => {
    if (config.shuffle_dataset) {
      output.push(row);
      return;
    }
    builders.input_ids!.push(row.input_ids);
    builders.labels!.push(row.labels);
    if (row.seq_lengths) builders.seq_lengths!.push(row.seq_lengths);
  };
  const pack = (rows: SftIds[]) => packBatch(rows, config.max_length!, config.packing_strategy).forEach(emit);
  const pending: SftIds[] = [];
  const take = (row: SftIds) => {
    if (packing) {
      pending.push(row);
      if (!buffered && pending.length === MAP_BATCH_ROWS) pack(pending.splice(0));
      return;
    }
    const kept = truncateSft(row, config.max_length, config.truncation_mode);
    if (kept) emit(kept);
    else counts.dropped++;
  };

  let first: SftExample | undefined;
  let sft: SftTokenizer | undefined;
  const flush = async (chunk: SftExample[]) => {
    if (chunk.length === 0) return;
    counts.examples += chunk.length;
    for (const row of await sft!.tokenize(chunk, stats)) take(row);
  };

  let chunk: SftExample[] = [];
  for await (const { values, file, row } of readRows(dataPath, {
    skipInvalidRows: config.skip_invalid_rows,
    onSkip: skip,
  })) {
    try {
      const example = toSftExample(mapColumns(values, config.dataset_columns), { file, row }, config);
      if (!first) {
        first = example;
        if (config.assistant_only_loss && !isConversational(example.format)) {
          throw configError(
            `assistant_only_loss needs a conversational dataset (messages), but ${file} holds ${example.format} rows`,
          );
        }
        sft = new SftTokenizer(tokenizer, {
          dataset_text_field: config.dataset_text_field,
          completion_only_loss: resolveCompletionOnlyLoss(config.completion_only_loss, example),
          assistant_only_loss: config.assistant_only_loss,
          eos_token: config.eos_token,
        });
      } else if (example.format !== first.format) {
        throw dataError(
          { file, row },
          undefined,
          `is a ${example.format} row but row ${first.at.row} is ${first.format}: ` + 'a dataset holds one format',
        );
      }
      chunk.push(example);
    } catch (err) {
      if (!(err instanceof AlignkitError) || err.code !== 'ERR_INVALID_DATA' || !config.skip_invalid_rows) throw err;
      skip(err);
    }
    if (chunk.length === CHUNK_ROWS) {
      await flush(chunk);
      chunk = [];
    }
  }
  await flush(chunk);

  if (buffered) {
    const rows = config.shuffle_dataset ? shuffled(pending, config.seed) : pending;
    for (const [start, end] of mapBatches(rows.length, config.dataset_num_proc)) pack(rows.slice(start, end));
  } else if (pending.length > 0) {
    pack(pending);
  }
  if (config.shuffle_dataset) {
    for (const row of shuffled(output, config.seed)) {
      builders.input_ids!.push(row.input_ids);
      builders.labels!.push(row.labels);
      if (row.seq_lengths) builders.seq_lengths!.push(row.seq_lengths);
    }
  }

  counts.prefixMismatches = stats.prefixMismatches;
  if (stats.prefixMismatches > 0) {
    log(
      `warning: in ${stats.prefixMismatches} row(s) the tokenized prompt is not the start of the tokenized ` +
        'prompt+completion (tokenizer merges across the boundary, whitespace or special tokens); TRL warns the same way',
    );
  }
  if (counts.dropped > 0)
    log(
      `dropped ${counts.dropped} row(s) left without a trained token by max_length=${config.max_length}, as TRL does`,
    );
  if (counts.skipped > 0) log(`skipped ${counts.skipped} invalid row(s) (skip_invalid_rows: true)`);

  if (options.refuseEmpty)
    requireRows({ rows: builders.input_ids!.length, ...counts }, options.split, dataPath, droppedWhy);
  const table = buildTable(builders);
  await mkdir(outputDir, { recursive: true });
  await writeArrowFile(table, path);
  await writeFile(metaPath, JSON.stringify({ fingerprint: key, counts }, null, 2) + '\n');
  return summarize(table, path, counts, false);
}
