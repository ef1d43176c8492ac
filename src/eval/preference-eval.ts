// Preference metrics of a model on held-out pairs, as TRL's DPOTrainer evaluates (prediction_step): the implicit
// rewards β·(log π(y|x) − log π_ref(y|x)) of chosen and rejected, their accuracy and margin, and the mean
// completion log-probs — each, as TRL logs them, the mean of the per-batch means. Beside them, what needs no reference: how often the model itself gives the chosen
// completion the higher log-prob (preference_accuracy), and the per-token perplexity of the chosen completions.
// With a reference model, its own preference_accuracy and perplexity come too: the "before" of a run.
import type { DpoConfig } from '../config/load-config.js';
import { PreferenceBatches } from '../data/preference-batches.js';
import { preprocessPreferences } from '../data/preprocess-preference.js';
import { readArrowFile } from '../data/token-table.js';
import type { Model } from '../model.js';
import type { Tokenizer } from '../tokenizer/index.js';
import { padTokenId } from '../train/dpo.js';
import type { EvalConfig } from './eval-config.js';

/** Per-pair sums of completion log-probs and completion token counts, chosen and rejected. */
interface PairLogProbs {
  chosen: Float64Array;
  rejected: Float64Array;
  chosenTokens: Float64Array;
}

async function pairLogProbs(model: Model, batches: PreferenceBatches, order: number[][], bf16: boolean): Promise<PairLogProbs> {
  const out = { chosen: new Float64Array(batches.rows), rejected: new Float64Array(batches.rows), chosenTokens: new Float64Array(batches.rows) };
  for (const indices of order) {
    const b = batches.collate(indices);
    const { logps, tokens } = await model.completionLogProbs(b.inputIds, b.attentionMask, b.completionMask, { seqLen: b.seqLen, bf16 });
    // Rows are [chosen of each pair, rejected of each pair] (DataCollatorForPreference).
    indices.forEach((row, i) => {
      out.chosen[row] = logps[i]!;
      out.rejected[row] = logps[indices.length + i]!;
      out.chosenTokens[row] = tokens[i]!;
    });
  }
  return out;
}

const mean = (values: ArrayLike<unknown>, f: (i: number) => number) => {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += f(i);
  return sum / values.length;
};

/** TRL's eval metric: each batch's mean of `f` over its pairs, then the mean over batches. */
const batchMean = (batches: number[][], f: (pair: number) => number) =>
  mean(batches, (b) => mean(batches[b]!, (i) => f(batches[b]![i]!)));

/** The reference-free figures of one model: preference accuracy and the chosen completions' perplexity. */
function ownFigures(lp: PairLogProbs, prefix: string): Record<string, number> {
  const tokens = lp.chosenTokens.reduce((a, b) => a + b, 0);
  return {
    [`${prefix}preference_accuracy`]: mean(lp.chosen, (i) => Number(lp.chosen[i]! > lp.rejected[i]!)),
    [`${prefix}perplexity`]: Math.exp(-lp.chosen.reduce((a, b) => a + b, 0) / tokens),
  };
}

/** Tokenizes `eval_dataset` as `trainer: dpo` does (cached in output_dir/eval.arrow) and scores every pair. */
export async function evaluatePreferences(
  config: EvalConfig & { output_dir: string },
  tokenizer: Tokenizer,
  model: Model,
  reference: Model | null,
  log: (message: string) => void,
): Promise<Record<string, number>> {
  const preprocessConfig: Parameters<typeof preprocessPreferences>[0] = {
    ...config, train_dataset: null, max_prompt_length: null, max_completion_length: null,
  } satisfies Partial<DpoConfig>;
  const table = await readArrowFile((await preprocessPreferences(preprocessConfig, { split: 'eval', log, refuseEmpty: true })).path);
  const batches = new PreferenceBatches(table, {
    batchSize: config.per_device_eval_batch_size, seed: config.seed, shuffle: false, groupByLength: false, dropLast: false,
    padTokenId: padTokenId(config, tokenizer), maxLength: config.max_length, truncationMode: config.truncation_mode, padToMultipleOf: null,
  });
  const order = batches.order(0);
  const policy = await pairLogProbs(model, batches, order, config.bf16);
  const results: Record<string, number> = {
    'eval_logps/chosen': batchMean(order, (i) => policy.chosen[i]!),
    'eval_logps/rejected': batchMean(order, (i) => policy.rejected[i]!),
    ...ownFigures(policy, 'eval_'),
    eval_pairs: batches.rows,
  };
  if (!reference) return results;

  const ref = await pairLogProbs(reference, batches, order, config.bf16);
  const chosenReward = (i: number) => config.beta * (policy.chosen[i]! - ref.chosen[i]!);
  const rejectedReward = (i: number) => config.beta * (policy.rejected[i]! - ref.rejected[i]!);
  return {
    'eval_rewards/chosen': batchMean(order, chosenReward),
    'eval_rewards/rejected': batchMean(order, rejectedReward),
    'eval_rewards/accuracies': batchMean(order, (i) => Number(chosenReward(i) > rejectedReward(i))),
    'eval_rewards/margins': batchMean(order, (i) => chosenReward(i) - rejectedReward(i)),
    ...results,
    ...ownFigures(ref, 'eval_ref_'),
  };
}
