// Ranked rows from file to token table for the listwise loss: each row's prompt and its answers best first, tokenized
// as DPO tokenizes a completion (tokenize-preference.ts: EOS text after plain text, the chat template for messages,
// the prompt's tokens dropped from prompt + answer), one table row per prompt: prompt_ids, the answers' ids end to
// end (completion_ids) and their lengths (completion_lengths). Rows whose answers all tie are left out. For all_pairs
// weighted by score gap, every pair of a row with different scores is a "prompt" of its own (two answers, best
// first) with its score difference in a `weight` column.
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Float32, Table, vectorFromArray } from 'apache-arrow';
import type { DpoConfig } from '../../config/load-config.js';
import { AlignkitError, configError } from '../../errors.js';
import { Tokenizer } from '../../tokenizer/index.js';
import { requireRows } from '../empty-split.js';
import { fingerprint } from '../fingerprint.js';
import type { PreferenceExample } from '../preference-rows.js';
import type { PreprocessOptions } from '../preprocess-preference.js';
import { readRows } from '../readers/index.js';
import { mapColumns } from '../row-context.js';
import { buildTable, IdColumnBuilder, writeArrowFile } from '../token-table.js';
import { tokenizePreferences, type PreferenceTokenizeStats } from '../tokenize-preference.js';
import { toRankedExample, type RankedExample } from './ranked-rows.js';

const FORMAT_VERSION = 1;
const CHUNK_ROWS = 256;

type RankedConfig = Pick<
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
  | 'ranked_score_field'
  | 'ranked_pair_weighting'
>;

/** The score-gap-weighted pairs of a ranked example, each as a two-answer example, with their weights. */
function weightedPairs(ex: RankedExample): { ex: RankedExample; weight: number }[] {
  const out: { ex: RankedExample; weight: number }[] = [];
  for (let i = 0; i < ex.scores.length; i++)
    for (let j = i + 1; j < ex.scores.length; j++) {
      const weight = ex.scores[i]! - ex.scores[j]!;
      if (weight > 0)
        out.push({
          ex: { ...ex, completions: [ex.completions[i]!, ex.completions[j]!], scores: [ex.scores[i]!, ex.scores[j]!] },
          weight,
        });
    }
  return out;
}

export interface RankedPreprocessSummary {
  path: string;
  /** Prompts kept. */
  rows: number;
  /** Answers over all kept prompts. */
  answers: number;
  dropped: number;
  skipped: number;
  tied: number;
}

/** Tokenizes examples' answers two at a time as DPO's (chosen, rejected); a prompt TRL would drop drops the row. */
async function tokenizeRanked(
  examples: RankedExample[],
  tokenizer: Tokenizer,
  config: RankedConfig,
  stats: PreferenceTokenizeStats,
) {
  const pairs: PreferenceExample[] = [];
  const firstPair: number[] = [];
  for (const ex of examples) {
    firstPair.push(pairs.length);
    for (let k = 0; k < ex.completions.length; k += 2) {
      const next = ex.completions[Math.min(k + 1, ex.completions.length - 1)]!;
      pairs.push({ ...ex, chosen: ex.completions[k]!, rejected: next });
    }
  }
  const ids = await tokenizePreferences(pairs, tokenizer, config, stats);
  return examples.map((ex, e) => {
    const first = ids[firstPair[e]!];
    if (!first) return null;
    const answers = ex.completions.map((_, k) => {
      const p = ids[firstPair[e]! + Math.floor(k / 2)]!;
      return k % 2 === 0 ? p.chosen_ids : p.rejected_ids;
    });
    return { prompt: first.prompt_ids, answers };
  });
}

export async function preprocessRanked(
  config: RankedConfig,
  options: PreprocessOptions,
): Promise<RankedPreprocessSummary> {
  const log = options.log ?? (() => {});
  const dataPath = options.split === 'train' ? config.train_dataset : config.eval_dataset;
  if (!config.model_name_or_path || !dataPath || !config.output_dir)
    throw configError(`model_name_or_path, ${options.split}_dataset and output_dir are required to preprocess`);
  const path = join(config.output_dir, `${options.split}-ranked.arrow`);
  const settings = {
    FORMAT_VERSION,
    max_length: config.max_length,
    truncation_mode: config.truncation_mode,
    max_prompt_length: config.max_prompt_length,
    max_completion_length: config.max_completion_length,
    chat_template: config.chat_template,
    dataset_columns: config.dataset_columns,
    skip_invalid_rows: config.skip_invalid_rows,
    ranked_score_field: config.ranked_score_field,
    ranked_pair_weighting: config.ranked_pair_weighting,
  };
  const key = await fingerprint([dataPath, config.model_name_or_path], settings);
  const metaPath = `${path}.json`;
  if (existsSync(path) && existsSync(metaPath)) {
    const meta = JSON.parse(await readFile(metaPath, 'utf8'));
    if (meta.fingerprint === key) return { path, ...meta.summary };
  }

  const tokenizer = await Tokenizer.load(config.model_name_or_path, {
    chatTemplate: config.chat_template ?? undefined,
  });
  const stats: PreferenceTokenizeStats = { dropped: 0, prefixMismatches: 0 };
  const counts = { skipped: 0, tied: 0, answers: 0 };
  const builders = {
    prompt_ids: new IdColumnBuilder(),
    completion_ids: new IdColumnBuilder(),
    completion_lengths: new IdColumnBuilder(),
  };
  const pairwise = config.ranked_pair_weighting === 'score_gap';
  const weights: number[] = [];
  const flush = async (chunk: RankedExample[]) => {
    const groups = pairwise ? chunk.flatMap(weightedPairs) : chunk.map((ex) => ({ ex, weight: 1 }));
    const rows = await tokenizeRanked(
      groups.map((g) => g.ex),
      tokenizer,
      config,
      stats,
    );
    for (const [g, row] of rows.entries()) {
      if (!row) continue;
      weights.push(groups[g]!.weight);
      builders.prompt_ids.push(row.prompt);
      builders.completion_ids.push(row.answers.flat());
      builders.completion_lengths.push(row.answers.map((a) => a.length));
      counts.answers += row.answers.length;
    }
  };
  const chunk: RankedExample[] = [];
  for await (const { values, file, row } of readRows(dataPath, {
    skipInvalidRows: config.skip_invalid_rows,
    onSkip: () => counts.skipped++,
  })) {
    try {
      const ex = toRankedExample(mapColumns(values, config.dataset_columns), { file, row }, config.ranked_score_field);
      // A ranking needs two answers that differ in score.
      if (ex.scores.length < 2 || ex.scores[0] === ex.scores.at(-1)) counts.tied++;
      else chunk.push(ex);
    } catch (err) {
      if (!(err instanceof AlignkitError) || !config.skip_invalid_rows) throw err;
      counts.skipped++;
      log(`skipped: ${err.message}`);
    }
    if (chunk.length === CHUNK_ROWS) await flush(chunk.splice(0));
  }
  await flush(chunk);
  if (counts.tied > 0) log(`ranked_pairing: listwise: ${counts.tied} row(s) whose answers all have one score left out`);
  if (stats.dropped > 0)
    log(`dropped ${stats.dropped} row(s) whose prompt alone fills max_length=${config.max_length} (keep_start)`);
  const summary = { rows: builders.prompt_ids.length, dropped: stats.dropped, ...counts };
  if (options.refuseEmpty)
    requireRows(
      { rows: summary.rows, dropped: summary.dropped, skipped: summary.skipped },
      options.split,
      dataPath,
      `the prompt alone fills max_length=${config.max_length}`,
    );
  await mkdir(config.output_dir, { recursive: true });
  const table = buildTable(builders);
  await writeArrowFile(
    pairwise ? table.assign(new Table({ weight: vectorFromArray(weights, new Float32()) })) : table,
    path,
  );
  await writeFile(metaPath, JSON.stringify({ fingerprint: key, summary }, null, 2) + '\n');
  return { path, ...summary };
}
