// The listwise recipe (trainer: dpo with ranked_pairing: listwise): ranked rows (src/data/ranked) → policy and
// reference → one Plackett–Luce step per micro-batch over every answer of its prompts (Model.listwiseStep,
// native/train/listwise_loss.h), handed to the shared loop. all_pairs weighted by score gap runs here too: each
// pair a two-answer ranking (where the loss is DPO's sigmoid) with its weight. No TRL trainer has this loss; it reuses DPO's config
// (beta, the reference, LoRA, data parallelism) and refuses DPO's pairwise loss keys, which it has no use for.
import type { Table } from 'apache-arrow';
import type { DpoConfig } from '../config/load-config.js';
import { dpoSchema } from '../config/trainer-fields.js';
import { isDefault } from '../config/config-notes.js';
import { splitBatches } from '../data/epoch-batches.js';
import { padTokenId } from '../data/pad-token.js';
import { preprocessRanked } from '../data/ranked/preprocess-ranked.js';
import { RankedBatches, type RankedBatch } from '../data/ranked/ranked-batches.js';
import { readArrowFile } from '../data/token-table.js';
import { DataParallel } from '../distributed/data-parallel.js';
import { configError } from '../errors.js';
import type { Model } from '../model.js';
import type { ListwiseStepOptions } from '../types/bco-steps.js';
import type { CompletionLogProbsOptions } from '../types/model.js';
import { Tokenizer } from '../tokenizer/index.js';
import { METRIC_RULES } from './metrics.js';
import { adapterBase } from './peft.js';
import { checkpointingOptions } from './checkpointed-layers.js';
import { checkEvalDataset, checkPrecision } from './config-checks.js';
import { referenceDtype } from './reference-dtype.js';
import { loadTrainingModel, setupPolicy } from './policy-setup.js';
import { meanOverMicroBatches } from './recipe.js';
import { runTrainer } from './trainer-loop.js';
import type { TrainOptions, TrainResult } from './train-types.js';

/** DPO's keys of its pairwise losses and reference handling that the listwise loss does not read. */
const PAIRWISE_KEYS = [
  'loss_type',
  'loss_weights',
  'ld_alpha',
  'f_divergence_type',
  'f_alpha_divergence_coef',
  'label_smoothing',
  'use_weighting',
  'discopop_tau',
  'sync_ref_model',
  'padding_free',
] as const;

/** Whether a DPO config trains here: whole rankings, or pairs weighted by their score gap. */
export const trainsListwise = (config: DpoConfig) =>
  config.ranked_pairing === 'listwise' || config.ranked_pair_weighting === 'score_gap';

/** The rules between ranked_pairing, ranked_pair_weighting and DPO's loss keys, checked before any work. */
function checkListwise(config: DpoConfig, note: (message: string) => void): void {
  checkPrecision(config, note);
  if (config.ranked_pair_weighting === 'score_gap' && config.ranked_pairing !== 'all_pairs')
    throw configError(
      `ranked_pair_weighting: score_gap weights the pairs of ranked_pairing: all_pairs, got ranked_pairing: ${config.ranked_pairing}`,
    );
  const set = PAIRWISE_KEYS.filter((key) => !isDefault(dpoSchema[key], config[key]));
  const what =
    config.ranked_pairing === 'listwise'
      ? 'ranked_pairing: listwise trains the Plackett–Luce loss over whole rankings'
      : "ranked_pair_weighting: score_gap trains DPO's sigmoid loss on weighted pairs";
  if (set.length > 0)
    throw configError(
      `${what}; ${set.join(', ')} belong to DPO's other losses: leave them at their defaults ` +
        '(or train unweighted pairs: best_vs_worst, best_vs_random, all_pairs)',
    );
  if (config.truncation_mode !== 'keep_start')
    throw configError(
      "ranked_pairing: listwise cuts each prompt + answer to its first max_length tokens (truncation_mode 'keep_start')",
    );
  if (adapterBase(config.model_name_or_path!))
    throw configError('ranked_pairing: listwise starts from a model, not a PEFT adapter folder; merge it first');
  if (config.precompute_ref_log_probs)
    note('note: precompute_ref_log_probs: the listwise loss runs the reference beside the policy on every batch');
}

export async function trainListwise(config: DpoConfig, options: TrainOptions = {}): Promise<TrainResult> {
  const note = options.log ?? ((message: string) => console.error(message));
  const dp = options.dataParallel ?? DataParallel.single;
  checkListwise(config, note);
  const evaluates = checkEvalDataset(config);
  const modelDir = config.model_name_or_path!;
  const tokenizer = await Tokenizer.load(modelDir, { chatTemplate: config.chat_template ?? undefined });
  const batchOptions = {
    seed: config.data_seed ?? config.seed,
    groupByLength: false,
    dropLast: config.dataloader_drop_last,
    padTokenId: padTokenId(config, tokenizer),
    maxLength: config.max_length,
    padToMultipleOf: config.pad_to_multiple_of,
  };
  const table = async (split: 'train' | 'eval'): Promise<Table> =>
    readArrowFile((await dp.mainFirst(() => preprocessRanked(config, { split, log: note, refuseEmpty: true }))).path);
  const { trainBatches, evalBatches } = await splitBatches((t, o) => new RankedBatches(t, o), table, batchOptions, {
    trainBatchSize: config.per_device_train_batch_size,
    evalBatchSize: config.per_device_eval_batch_size,
    shuffle: config.train_sampling_strategy !== 'sequential',
    evaluates,
  });

  const { resumeDir, policy, optimizer, resumed } = await setupPolicy(config, dp);
  // As DPO's: a frozen copy of the initial policy, or with LoRA the policy with its adapters off.
  const lora = policy.config.lora;
  const reference: Model = lora
    ? policy
    : await loadTrainingModel(config, modelDir, referenceDtype(config, lora, note));
  const forward: CompletionLogProbsOptions = { bf16: config.bf16 ?? true };
  const stepOptions: ListwiseStepOptions = {
    beta: config.beta,
    router_aux_loss_coef: config.router_aux_loss_coef,
    ...forward,
    ...checkpointingOptions(config, policy.config.numLayers),
  };
  const listwise = async (b: RankedBatch, options: ListwiseStepOptions) => {
    const ref = await reference.completionLogProbs(b.inputIds, b.attentionMask, b.completionMask, {
      ...forward,
      adaptersOff: lora,
      seqLen: b.seqLen,
    });
    return policy.listwiseStep(b, ref.logps, { ...stepOptions, ...options, ...(b.weights && { weights: b.weights }) });
  };

  return runTrainer(
    {
      config,
      policy,
      optimizer,
      resumed,
      resumeDir,
      trainBatches,
      evalBatches,
      trainStep: (micro) =>
        meanOverMicroBatches(
          micro,
          (indices) => trainBatches.collate(indices),
          (b, _, how) => listwise(b, how),
        ),
      async evalStep(indices) {
        return listwise(evalBatches!.collate(indices), { backward: false });
      },
      metricRules: METRIC_RULES.dpo,
    },
    options,
  );
}
