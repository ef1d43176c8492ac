// Generations and the win rate: each prompt's completion by the model and by the reference (same sampling
// settings), written to generations.jsonl, and the model's win rate over the reference — the mean of the verdicts
// (1 win, 0 loss, 0.5 tie) of a judge function, or of a reward model's comparison of the two completions' scores.
import { open } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { side } from '../data/preference-rows.js';
import { readRows } from '../data/readers/index.js';
import { dataError, mapColumns, type RowLocation } from '../data/row-context.js';
import { AlignkitError } from '../errors.js';
import type { Model } from '../model.js';
import type { Prompt } from '../generate/generate.js';
import type { Tokenizer } from '../tokenizer/index.js';
import type { EvalConfig } from './eval-config.js';
import { rewardScores } from './reward-model.js';

/**
 * Compares completion `a` (the model's) with `b` (the reference's) for `prompt`: 1 when a is better, 0 when b is,
 * 0.5 for a tie. `row` is the dataset row, for rules that need more than the prompt.
 */
export type Judge = (prompt: Prompt, a: string, b: string, row: Record<string, unknown>) => number | Promise<number>;

/** A prompt row: the prompt, the whole (column-mapped) row for judges that need more, and where it was read. */
export interface PromptRow {
  prompt: Prompt;
  row: Record<string, unknown>;
  at: RowLocation;
}

/** The rows of `path` that have a prompt (text or messages); invalid rows are an error, or skipped and logged. */
export async function readPrompts(
  path: string,
  config: Pick<EvalConfig, 'skip_invalid_rows' | 'dataset_columns'>,
  log: (message: string) => void,
): Promise<PromptRow[]> {
  const rows: PromptRow[] = [];
  const skip = (error: AlignkitError) => log(`skipped: ${error.message}`);
  for await (const { values, file, row } of readRows(path, {
    skipInvalidRows: config.skip_invalid_rows,
    onSkip: skip,
  })) {
    const at = { file, row };
    const mapped = mapColumns(values, config.dataset_columns);
    try {
      if (!('prompt' in mapped))
        throw dataError(at, 'prompt', 'missing: a prompt row needs a prompt (text or messages)');
      rows.push({ prompt: side(at, 'prompt', mapped.prompt, false) as Prompt, row: mapped, at });
    } catch (err) {
      if (!(err instanceof AlignkitError) || !config.skip_invalid_rows) throw err;
      skip(err);
    }
  }
  return rows;
}

/** The config's `judge` module: its default export (or one named `judge`) must be a function. */
export async function importJudge<F = Judge>(path: string): Promise<F> {
  let module: Record<string, unknown>;
  try {
    module = await import(pathToFileURL(resolve(path)).href);
  } catch (err) {
    throw new AlignkitError('ERR_INVALID_CONFIG', `judge: cannot import ${path} (${(err as Error).message})`);
  }
  const judge = module.default ?? module.judge;
  if (typeof judge !== 'function')
    throw new AlignkitError('ERR_INVALID_CONFIG', `judge: ${path} must export a function (default export or 'judge')`);
  return judge as F;
}

async function verdict(judge: Judge, p: PromptRow, a: string, b: string): Promise<number> {
  const v = await judge(p.prompt, a, b, p.row);
  if (v !== 0 && v !== 0.5 && v !== 1) {
    throw new AlignkitError(
      'ERR_INVALID_ARG',
      `judge: ${p.at.file} row ${p.at.row}: must return 1, 0 or 0.5, got ${String(v)}`,
    );
  }
  return v;
}

/** A reward model and its own tokenizer (and chat template). */
export interface RewardModel {
  model: Model;
  tokenizer: Tokenizer;
}

export interface GenerationEvalContext {
  tokenizer: Tokenizer;
  model: Model;
  reference: Model | null;
  judge?: Judge;
  rewardModel?: RewardModel;
  generationsPath: string;
  log: (message: string) => void;
}

/** Per row of a batch: the verdict (1 / 0 / 0.5) on the model's completion a against the reference's b, and scores. */
type Scorer = (
  batch: PromptRow[],
  a: string[],
  b: string[],
) => Promise<{ verdict: number; scores?: [number, number] }[]>;

function judgeScorer(judge: Judge): Scorer {
  return (batch, a, b) => Promise.all(batch.map(async (p, i) => ({ verdict: await verdict(judge, p, a[i]!, b[i]!) })));
}

function rewardScorer({ model, tokenizer }: RewardModel): Scorer {
  return async (batch, a, b) => {
    const prompts = batch.map((p) => p.prompt);
    const scores = await rewardScores(model, tokenizer, [...prompts, ...prompts], [...a, ...b]);
    return batch.map((_, i) => {
      const [ours, theirs] = [scores[i]!, scores[batch.length + i]!];
      return { verdict: ours > theirs ? 1 : ours < theirs ? 0 : 0.5, scores: [ours, theirs] };
    });
  };
}

export async function evaluateGenerations(
  config: EvalConfig,
  ctx: GenerationEvalContext,
): Promise<Record<string, number>> {
  const prompts = await readPrompts(config.prompt_dataset!, config, ctx.log);
  const judge = ctx.judge ?? (config.judge ? await importJudge(config.judge) : undefined);
  const scorer = judge ? judgeScorer(judge) : ctx.rewardModel ? rewardScorer(ctx.rewardModel) : undefined;
  // Unset (null) fields fall back to the model folder's generation_config.json, as in transformers.
  const sampling = Object.fromEntries(
    Object.entries({
      max_new_tokens: config.max_new_tokens,
      do_sample: config.do_sample,
      temperature: config.temperature,
      top_k: config.top_k,
      top_p: config.top_p,
    }).filter(([, v]) => v !== null),
  );
  const generate = (model: Model, batch: PromptRow[]) =>
    model.generate(
      batch.map((p) => p.prompt),
      { ...sampling, seed: config.seed, tokenizer: ctx.tokenizer },
    );

  const out = await open(ctx.generationsPath, 'w');
  let wins = 0;
  let newTokens = 0;
  const rewards: [number, number] = [0, 0];
  try {
    for (let start = 0; start < prompts.length; start += config.per_device_eval_batch_size) {
      const batch = prompts.slice(start, start + config.per_device_eval_batch_size);
      const ours = await generate(ctx.model, batch);
      const theirs = ctx.reference ? await generate(ctx.reference, batch) : null;
      const a = ours.map((g) => g.text);
      const b = theirs?.map((g) => g.text);
      const judged = scorer && b ? await scorer(batch, a, b) : undefined;
      for (const [i, p] of batch.entries()) {
        const j = judged?.[i];
        if (j) wins += j.verdict;
        if (j?.scores) [rewards[0], rewards[1]] = [rewards[0] + j.scores[0], rewards[1] + j.scores[1]];
        newTokens += ours[i]!.tokenIds.length;
        await out.write(
          JSON.stringify({
            prompt: p.prompt,
            model: a[i],
            ...(b ? { reference: b[i] } : {}),
            ...(j ? { verdict: j.verdict } : {}),
            ...(j?.scores ? { rewards: j.scores } : {}),
          }) + '\n',
        );
      }
      ctx.log(`eval: ${Math.min(start + batch.length, prompts.length)}/${prompts.length} prompts`);
    }
  } finally {
    await out.close();
  }
  return {
    eval_prompts: prompts.length,
    eval_mean_completion_tokens: newTokens / prompts.length,
    ...(scorer && ctx.reference ? { eval_win_rate: wins / prompts.length } : {}),
    ...(!judge && ctx.rewardModel
      ? { 'eval_reward/model': rewards[0] / prompts.length, 'eval_reward/reference': rewards[1] / prompts.length }
      : {}),
  };
}
