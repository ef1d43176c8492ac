// How online DPO ranks a round's completions: a score per completion from the user's judge function (passed to
// train() or the config's `judge` module), a rule of the config (judge_regex, judge_length_target) or a reward
// model (reward_model_path), then per prompt the best
// completion against the worst — TRL's OnlineDPOTrainer pairs its two samples the same way by reward.
import type { OnlineDpoConfig } from '../config/load-config.js';
import { rewardScores } from '../eval/reward-model.js';
import type { PromptRow, RewardModel } from '../eval/generation-eval.js';
import type { Prompt } from '../generate/generate.js';
import { AlignkitError, configError } from '../errors.js';

/**
 * Scores each of one prompt's completions, higher is better; `row` is the dataset row, for rules that need more
 * than the prompt. Return one finite number per completion.
 */
export type ScoreJudge = (
  prompt: Prompt,
  completions: string[],
  row: Record<string, unknown>,
) => number[] | Promise<number[]>;

/** Scores of a batch of prompts' completions: scores[i][k] is prompt i's completion k's. */
export type Scorer = (batch: PromptRow[], completions: string[][]) => Promise<number[][]>;

/** What judges a run: the user's function (or module), or the one rule or reward model the config names. */
export type JudgeSource = { judge: ScoreJudge } | { judgeModule: string } | { rewardModelPath: string };

export function judgeSource(config: OnlineDpoConfig, judge: ScoreJudge | undefined): JudgeSource {
  const given = [
    judge && 'the judge function passed to train()',
    config.judge !== null && 'judge',
    config.judge_regex !== null && 'judge_regex',
    config.judge_length_target !== null && 'judge_length_target',
    config.reward_model_path !== null && 'reward_model_path',
  ].filter((g): g is string => typeof g === 'string');
  if (given.length === 0) {
    throw configError(
      'online_dpo needs a judge: pass { judge } to train(), or set judge (a JS module), judge_regex, judge_length_target or reward_model_path',
    );
  }
  if (given.length > 1) throw configError(`online_dpo takes one judge, got ${given.join(' and ')}`);
  if (judge) return { judge };
  if (config.judge !== null) return { judgeModule: config.judge };
  if (config.reward_model_path !== null) return { rewardModelPath: config.reward_model_path };
  if (config.judge_regex !== null) {
    let regex: RegExp;
    try {
      regex = new RegExp(config.judge_regex);
    } catch (err) {
      throw configError(
        `'judge_regex' must be a valid regular expression, got ${JSON.stringify(config.judge_regex)} (${(err as Error).message})`,
      );
    }
    return { judge: (_prompt, completions) => completions.map((c) => Number(regex.test(c))) };
  }
  const target = config.judge_length_target!;
  return { judge: (_prompt, completions) => completions.map((c) => -Math.abs(c.length - target)) };
}

export function judgeScorer(judge: ScoreJudge): Scorer {
  return (batch, completions) =>
    Promise.all(
      batch.map(async (p, i) => {
        const scores = await judge(p.prompt, completions[i]!, p.row);
        if (!Array.isArray(scores) || scores.length !== completions[i]!.length || !scores.every(Number.isFinite)) {
          throw new AlignkitError(
            'ERR_INVALID_ARG',
            `judge: ${p.at.file} row ${p.at.row}: must return ${completions[i]!.length} finite numbers (one per completion), got ${JSON.stringify(scores)}`,
          );
        }
        return scores;
      }),
    );
}

/** The reward model's score of each prompt + completion, as `alignkit eval` scores them. */
export function rewardScorer({ model, tokenizer }: RewardModel): Scorer {
  return async (batch, completions) => {
    const flat = await rewardScores(
      model,
      tokenizer,
      batch.flatMap((p, i) => completions[i]!.map(() => p.prompt)),
      completions.flat(),
    );
    let k = 0;
    return completions.map((c) => c.map(() => flat[k++]!));
  };
}

export interface Pair {
  /** The prompt's index in the scored list. */
  prompt: number;
  /** Indices of the completions: the first with the highest score, the first with the lowest. */
  chosen: number;
  rejected: number;
}

/**
 * Per prompt the best completion against the worst, among those with a finite score (NaN marks one that cannot be
 * a side of a pair); a prompt whose candidates all score the same, or that has fewer than two, is a tie, skipped.
 */
export function pairBestWorst(scores: number[][]): { pairs: Pair[]; ties: number } {
  const pairs: Pair[] = [];
  let ties = 0;
  scores.forEach((s, prompt) => {
    let [chosen, rejected] = [-1, -1];
    s.forEach((v, k) => {
      if (!Number.isFinite(v)) return;
      if (chosen < 0 || v > s[chosen]!) chosen = k;
      if (rejected < 0 || v < s[rejected]!) rejected = k;
    });
    if (chosen < 0 || s[chosen] === s[rejected]) ties++;
    else pairs.push({ prompt, chosen, rejected });
  });
  return { pairs, ties };
}
