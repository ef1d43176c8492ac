// Preference metrics of a model on held-out pairs, as TRL's DPOTrainer evaluates (prediction_step): the implicit
// rewards β·(log π(y|x) − log π_ref(y|x)) of chosen and rejected, their accuracy and margin, and the mean
// completion log-probs — each, as TRL logs them, the mean of the per-batch means. Beside them, what needs no reference: how often the model itself gives the chosen
// completion the higher log-prob (preference_accuracy), and the per-token perplexity of the chosen completions.
// With a reference model, its own preference_accuracy and perplexity come too: the "before" of a run.
import type { DpoConfig } from '../config/load-config.js';
import { PreferenceBatches } from '../data/preference-batches.js';
import type { PreferenceBatch } from '../data/preference-collator.js';
import { preprocessPreferences } from '../data/preprocess-preference.js';
import { readArrowFile } from '../data/token-table.js';
import type { Model } from '../model.js';
import type { Tokenizer } from '../tokenizer/index.js';
import {
  METRIC_RULES,
  addParts,
  pushMetrics,
  stepMetrics,
  windowMeans,
  type MetricParts,
  type MetricWindow,
} from '../train/metrics.js';
import { padTokenId } from '../data/pad-token.js';
import type { EvalConfig } from './eval-config.js';

/** A batch's per-pair completion log-probs (chosen, rejected) and chosen completion tokens. */
interface BatchLogProbs {
  chosen: Float32Array;
  rejected: Float32Array;
  chosenTokens: Int32Array;
}

async function batchLogProbs(model: Model, b: PreferenceBatch, bf16: boolean): Promise<BatchLogProbs> {
  const { logps, tokens } = await model.completionLogProbs(b.inputIds, b.attentionMask, b.completionMask, {
    seqLen: b.seqLen,
    bf16,
  });
  // Rows are [chosen of each pair, rejected of each pair] (DataCollatorForPreference).
  return {
    chosen: logps.subarray(0, b.pairs),
    rejected: logps.subarray(b.pairs),
    chosenTokens: tokens.subarray(0, b.pairs),
  };
}

const sum = (n: number, f: (i: number) => number) => {
  let total = 0;
  for (let i = 0; i < n; i++) total += f(i);
  return total;
};

/** The parts of TRL's DPO metrics of one batch (DPOTrainer._compute_loss: over its pairs); rewards/ with a reference. */
function dpoParts(policy: BatchLogProbs, ref: BatchLogProbs | null, beta: number): MetricParts {
  const n = policy.chosen.length;
  const parts: MetricParts = {};
  if (ref) {
    const chosen = (i: number) => beta * (policy.chosen[i]! - ref.chosen[i]!);
    const rejected = (i: number) => beta * (policy.rejected[i]! - ref.rejected[i]!);
    parts['rewards/chosen'] = [sum(n, chosen), n];
    parts['rewards/rejected'] = [sum(n, rejected), n];
    parts['rewards/accuracies'] = [sum(n, (i) => Number(chosen(i) > rejected(i))), n];
    parts['rewards/margins'] = [sum(n, (i) => chosen(i) - rejected(i)), n];
  }
  parts['logps/chosen'] = [sum(n, (i) => policy.chosen[i]!), n];
  parts['logps/rejected'] = [sum(n, (i) => policy.rejected[i]!), n];
  return parts;
}

/**
 * The parts of one model's reference-free figures over a batch: how often it gives the chosen completion the higher
 * log-prob, and the chosen completions' log-prob per token (perplexity = exp(−that) over every pair).
 */
const ownParts = (lp: BatchLogProbs): MetricParts => ({
  preference_accuracy: [sum(lp.chosen.length, (i) => Number(lp.chosen[i]! > lp.rejected[i]!)), lp.chosen.length],
  chosen_logp_per_token: [
    sum(lp.chosen.length, (i) => lp.chosen[i]!),
    sum(lp.chosen.length, (i) => lp.chosenTokens[i]!),
  ],
});

/** The reference-free figures from their parts summed over every batch. */
function ownFigures(parts: MetricParts, prefix: string): Record<string, number> {
  const m = stepMetrics({ parts, num_tokens: 0 }, METRIC_RULES.dpo);
  return {
    [`${prefix}preference_accuracy`]: m.preference_accuracy!,
    [`${prefix}perplexity`]: Math.exp(-m.chosen_logp_per_token!),
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
    ...config,
    train_dataset: null,
    max_prompt_length: null,
    max_completion_length: null,
  } satisfies Partial<DpoConfig>;
  const table = await readArrowFile(
    (await preprocessPreferences(preprocessConfig, { split: 'eval', log, refuseEmpty: true })).path,
  );
  const batches = new PreferenceBatches(table, {
    batchSize: config.per_device_eval_batch_size,
    seed: config.seed,
    shuffle: false,
    groupByLength: false,
    dropLast: false,
    padTokenId: padTokenId(config, tokenizer),
    maxLength: config.max_length,
    truncationMode: config.truncation_mode,
    padToMultipleOf: null,
  });
  // TRL's eval log: each batch's metrics over its pairs, then their mean over the batches (metrics.ts).
  const window: MetricWindow = {};
  const own = { policy: {}, ref: {} } as Record<'policy' | 'ref', MetricParts>;
  for (const indices of batches.order(0)) {
    const b = batches.collate(indices);
    const policy = await batchLogProbs(model, b, config.bf16);
    const ref = reference && (await batchLogProbs(reference, b, config.bf16));
    pushMetrics(window, stepMetrics({ parts: dpoParts(policy, ref, config.beta), num_tokens: 0 }, METRIC_RULES.dpo));
    addParts(own.policy, ownParts(policy));
    if (ref) addParts(own.ref, ownParts(ref));
  }
  const dpo = Object.fromEntries(Object.entries(windowMeans(window)).map(([key, value]) => [`eval_${key}`, value]));
  return {
    ...dpo,
    ...ownFigures(own.policy, 'eval_'),
    eval_pairs: batches.rows,
    ...(reference ? ownFigures(own.ref, 'eval_ref_') : {}),
  };
}
