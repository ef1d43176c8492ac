// ORPO/CPO preference data from file to token table: read rows (streaming), normalise each to prompt/chosen/rejected
// (preference-rows.ts: TRL's maybe_extract_prompt), render conversations to text (render-text.ts), tokenize as the
// experimental trainers' tokenize_row (tokenize-row.ts), and store each side's prompt and completion ids, already cut
// to max_length as TRL stores them, as an Arrow IPC file. A table whose fingerprint matches is reused.
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { OrpoConfig } from '../../config/load-config.js';
import { AlignkitError } from '../../errors.js';
import type { Tokenizer } from '../../tokenizer/index.js';
import { requireRows } from '../empty-split.js';
import { fingerprint } from '../fingerprint.js';
import { toPreferenceExample, type PreferenceExample } from '../preference-rows.js';
import { dataError, mapColumns } from '../row-context.js';
import { readRows } from '../readers/index.js';
import { buildTable, IdColumnBuilder, writeArrowFile } from '../token-table.js';
import { renderPreferenceText } from './render-text.js';
import { tokenizeRow, type ReferenceFreeIds, type ReferenceFreeTokenizeOptions } from './tokenize-row.js';

/** Bump when the table layout or tokenization changes, so old caches are not reused. */
const FORMAT_VERSION = 1;
const CHUNK_ROWS = 1024;
const COLUMNS = ['chosen_prompt_ids', 'chosen_ids', 'rejected_prompt_ids', 'rejected_ids'] as const;

type PreprocessConfig = Pick<
  OrpoConfig,
  | 'model_name_or_path'
  | 'train_dataset'
  | 'eval_dataset'
  | 'output_dir'
  | 'chat_template'
  | 'dataset_columns'
  | 'skip_invalid_rows'
  | 'max_prompt_length'
>;

export interface ReferenceFreePreprocessOptions {
  split: 'train' | 'eval';
  log?: (message: string) => void;
  /** max_length as the trainer resolves it (TRL: 512 when unset). */
  maxLength: number;
}

/** Tokenizes the split into `${output_dir}/${split}-orpo.arrow` (or reuses it); returns its path. */
export async function preprocessReferenceFree(
  config: PreprocessConfig,
  tokenizer: Tokenizer,
  options: ReferenceFreePreprocessOptions,
): Promise<string> {
  const log = options.log ?? (() => {});
  const key = options.split === 'train' ? 'train_dataset' : 'eval_dataset';
  const dataPath = config[key];
  if (!dataPath || !config.model_name_or_path || !config.output_dir)
    throw new AlignkitError(
      'ERR_INVALID_CONFIG',
      `config: '${key}', 'model_name_or_path' and 'output_dir' are required`,
    );
  const path = join(config.output_dir, `${options.split}-reference-free.arrow`);
  const tokenizeOptions: ReferenceFreeTokenizeOptions = {
    maxLength: options.maxLength,
    maxPromptLength: config.max_prompt_length,
    bosTokenId: tokenizer.bosTokenId,
    eosTokenId: tokenizer.eosTokenId,
  };
  const settings = {
    FORMAT_VERSION,
    ...tokenizeOptions,
    chat_template: config.chat_template,
    dataset_columns: config.dataset_columns,
    skip_invalid_rows: config.skip_invalid_rows,
  };
  const fp = await fingerprint([dataPath, config.model_name_or_path], settings);
  const metaPath = `${path}.json`;
  if (existsSync(path) && existsSync(metaPath) && JSON.parse(await readFile(metaPath, 'utf8')).fingerprint === fp)
    return path;

  const builders = Object.fromEntries(COLUMNS.map((c) => [c, new IdColumnBuilder()])) as Record<
    (typeof COLUMNS)[number],
    IdColumnBuilder
  >;
  let skipped = 0;
  const skip = (error: AlignkitError) => {
    skipped++;
    log(`skipped: ${error.message}`);
  };
  const flush = async (chunk: PreferenceExample[]) => {
    const texts = chunk.map((ex) => renderPreferenceText(ex, tokenizer));
    const ids = await tokenizer.encodeBatch(
      texts.flatMap((t) => [t.prompt, t.prompt + t.chosen, t.prompt + t.rejected]),
      { addSpecialTokens: false },
    );
    chunk.forEach((ex, i) => {
      const row = tokenizeRow([ids[3 * i]!, ids[3 * i + 1]!, ids[3 * i + 2]!], tokenizeOptions);
      if (typeof row === 'string') {
        const error = dataError(ex.at, undefined, `${row} (TRL raises on this row)`);
        if (!config.skip_invalid_rows) throw error;
        return skip(error);
      }
      for (const c of COLUMNS) builders[c].push(row[c as keyof ReferenceFreeIds]);
    });
  };

  let chunk: PreferenceExample[] = [];
  for await (const { values, file, row } of readRows(dataPath, {
    skipInvalidRows: config.skip_invalid_rows,
    onSkip: skip,
  })) {
    try {
      chunk.push(toPreferenceExample(mapColumns(values, config.dataset_columns), { file, row }));
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
  if (skipped > 0) log(`skipped ${skipped} invalid row(s) (skip_invalid_rows: true)`);
  requireRows({ rows: builders.chosen_ids.length, dropped: 0, skipped }, options.split, dataPath, '');
  await mkdir(config.output_dir, { recursive: true });
  await writeArrowFile(buildTable(builders), path);
  await writeFile(metaPath, JSON.stringify({ fingerprint: fp }, null, 2) + '\n');
  return path;
}
