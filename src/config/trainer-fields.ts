// The fields TRL 1.13's DPOConfig, SFTConfig and KTOConfig define or re-default (test/fixtures/trl/config-fields.json),
// over the shared pieces of base-trainer-fields.ts; ORPO/CPO, BCO and the reward trainer have their own files.
import {
  alignkitFields,
  labelSmoothingFactorUnread,
  REF_MODEL_DTYPES,
  samplingStrategy,
  sequenceTrlFields,
  sharedTrlFields,
} from './base-trainer-fields.js';
import { bcoSchema } from './bco-fields.js';
import { datasetFields, rankedDatasetFields } from './dataset-fields.js';
import { legacyTrainingFields } from './legacy-fields.js';
import { modelFields } from './model-fields.js';
import { cpoSchema, orpoSchema } from './orpo-fields.js';
import { rewardSchema } from './reward-fields.js';
import { bool, int, noEffect, num, numbers, obj, oneOf, orNull, refused, str, strings, type Schema } from './schema.js';
import { trainingFields } from './training-fields.js';

export { REF_MODEL_DTYPES, SAMPLING_STRATEGIES, TRUNCATION_MODES } from './base-trainer-fields.js';

export const dpoSchema = {
  ...legacyTrainingFields,
  ...trainingFields,
  ...alignkitFields,
  ...sharedTrlFields,
  ...modelFields,
  ...datasetFields,
  ...rankedDatasetFields,
  ...sequenceTrlFields,
  learning_rate: num(1e-6, { min: 0 }),
  train_sampling_strategy: samplingStrategy('random'),
  label_smoothing_factor: labelSmoothingFactorUnread,
  disable_dropout: bool(true),
  /** TRL's default false; null (not written): on when the training set is reused over epochs (src/train/auto-precompute.ts). */
  precompute_ref_log_probs: bool(null),
  precompute_ref_batch_size: int(null, 1),
  // The loss fields: names and defaults are those of native/train/dpo_loss.h's catalogue (test/config/native-catalogue.test.ts);
  // the loss types, f-divergences and the rules between these keys are checked by it at config load (loss-options.ts).
  /** One or more of the native catalogue's DPO loss types (docs/training.md lists them); several are summed. */
  loss_type: strings(['sigmoid']),
  /** One weight per loss type (null: all 1). */
  loss_weights: numbers(null),
  /** LD-DPO: the log-probs past the shorter completion of a pair are scaled by ld_alpha (null: no weighting). */
  ld_alpha: num(null, { min: 0, max: 1 }),
  /** f-DPO's f-divergence, one of the native catalogue's (reverse_kl: standard DPO). */
  f_divergence_type: str('reverse_kl'),
  f_alpha_divergence_coef: num(0.5),
  /** Robust DPO's label flip probability (below 0.5), EXO's ε (above 0), AOT's smoothing. */
  label_smoothing: num(0.0, { min: 0, max: 1 }),
  beta: num(0.1),
  /** WPO weighting of each pair's loss. */
  use_weighting: bool(false),
  discopop_tau: num(0.05),
  sync_ref_model: bool(false),
  ref_model_mixup_alpha: num(0.6, { min: 0, max: 1 }),
  ref_model_sync_steps: int(512, 1),
  /** alignkit's: the frozen reference's weights in this dtype (null: the policy's, as TRL); src/train/reference-dtype.ts. */
  ref_model_dtype: oneOf(REF_MODEL_DTYPES, null),
} satisfies Schema;

/**
 * Iterative / online DPO (src/train/online-dpo.ts): rounds of generate → judge → DPO on DPOConfig's keys, with
 * TRL's OnlineDPOConfig names and defaults for generation; train_dataset holds prompt rows.
 */
export const onlineDpoSchema = {
  ...dpoSchema,
  ranked_pairing: refused(
    rankedDatasetFields.ranked_pairing,
    'online DPO samples and judges its own pairs from prompt rows; ranked rows train with trainer: dpo',
  ),
  learning_rate: num(5e-7, { min: 0 }),
  max_length: orNull(int(512, 1)),
  /** Rounds of generate → judge → DPO. */
  iterations: int(1, 1),
  /** Completions sampled per prompt each round; the best and the worst become a pair (TRL samples 2). */
  num_generations: int(2, 2),
  max_new_tokens: int(64, 1),
  temperature: num(0.9, { min: 0 }),
  top_k: int(0, 0),
  top_p: num(1.0, { min: 0, max: 1 }),
  /** Subtracted from the score of a completion that did not end with EOS. */
  missing_eos_penalty: num(null, { min: 0 }),
  /** `fixed`: every round's reference is model_name_or_path; `last_round`: the policy the round starts from. */
  ref_model_update: oneOf(['fixed', 'last_round'], 'fixed'),
  /** A JS module whose default export (or `judge`) scores a prompt's completions: (prompt, completions, row) → numbers. */
  judge: str(null),
  /** Rule judge: a completion scores 1 when this regular expression matches it, else 0. */
  judge_regex: str(null),
  /** Rule judge: a completion scores −|characters − judge_length_target|. */
  judge_length_target: int(null, 0),
  /** Judge by a sequence-classification reward model folder: its score of prompt + completion. */
  reward_model_path: str(null),
} satisfies Schema;

export const sftSchema = {
  ...legacyTrainingFields,
  ...trainingFields,
  ...alignkitFields,
  ...sharedTrlFields,
  ...modelFields,
  ...datasetFields,
  ...sequenceTrlFields,
  learning_rate: num(2e-5, { min: 0 }),
  train_sampling_strategy: samplingStrategy('random'),
  label_smoothing_factor: refused(
    num(0, { min: 0, max: 1 }),
    "label smoothing of SFT's cross-entropy (the Trainer's LabelSmoother) is not implemented",
  ),
  chat_template_path: str(null),
  dataset_text_field: str('text'),
  /** SFTConfig's only dataset_kwargs key is skip_prepare_dataset (pre-tokenized data), which alignkit does not take. */
  dataset_kwargs: refused(
    noEffect(obj(null), 'SFTConfig reads only its skip_prepare_dataset key (other keys are ignored by TRL too)'),
    "skip_prepare_dataset (training on a dataset tokenized beforehand) is not implemented: alignkit tokenizes every dataset as TRL's _prepare_dataset does",
    [{ skip_prepare_dataset: true }],
  ),
  eos_token: str(null),
  shuffle_dataset: bool(false),
  packing: bool(false),
  packing_strategy: oneOf(['bfd', 'bfd_split', 'wrapped'], 'bfd'),
  eval_packing: bool(null),
  completion_only_loss: bool(null),
  assistant_only_loss: bool(false),
  /** One of the native catalogue's SFT loss types (null: chunked_nll, as SFTConfig resolves it); checked at config load. */
  loss_type: str(null),
} satisfies Schema;

export const ktoSchema = {
  ...legacyTrainingFields,
  ...trainingFields,
  ...alignkitFields,
  ...sharedTrlFields,
  ...modelFields,
  ...datasetFields,
  learning_rate: num(1e-6, { min: 0 }),
  /** KL loss types pair each example with a neighbour's completion, which only 'sequential' keeps. */
  train_sampling_strategy: samplingStrategy('sequential'),
  label_smoothing_factor: labelSmoothingFactorUnread,
  disable_dropout: bool(true),
  /** TRL's default false; null (not written): on when the training set is reused over epochs (src/train/auto-precompute.ts). */
  precompute_ref_log_probs: bool(null),
  precompute_ref_batch_size: int(null, 1),
  // The loss fields: names and defaults are those of native/train/kto_loss.h's catalogue, which checks them at config load.
  /** One of the native catalogue's KTO loss types (docs/training.md lists them). */
  loss_type: str('kto'),
  beta: num(0.1),
  desirable_weight: num(1.0, { min: 0 }),
  undesirable_weight: num(1.0, { min: 0 }),
  sync_ref_model: bool(false),
  ref_model_mixup_alpha: num(0.6, { min: 0, max: 1 }),
  ref_model_sync_steps: int(512, 1),
  /** alignkit's: the frozen reference's weights in this dtype (null: the policy's, as TRL); src/train/reference-dtype.ts. */
  ref_model_dtype: oneOf(REF_MODEL_DTYPES, null),
} satisfies Schema;

/** Each trainer's schema, by the name `trainer:` (or `alignkit dpo|sft|kto|orpo|cpo|bco|reward`) gives it. */
export const trainerSchemas = {
  dpo: dpoSchema,
  sft: sftSchema,
  kto: ktoSchema,
  online_dpo: onlineDpoSchema,
  orpo: orpoSchema,
  cpo: cpoSchema,
  bco: bcoSchema,
  reward: rewardSchema,
} as const;
