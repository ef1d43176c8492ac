// The fields TRL 1.13's DPOConfig, SFTConfig and KTOConfig define or re-default (test/fixtures/trl/config-fields.json),
// plus alignkit's own keys for what TRL takes as Python arguments (model, datasets, chat template).
import { datasetFields } from './dataset-fields.js';
import { legacyTrainingFields } from './legacy-fields.js';
import { modelFields } from './model-fields.js';
import { bool, int, noEffect, num, numbers, obj, oneOf, orNull, refused, str, strings, type Schema } from './schema.js';
import { trainingFields } from './training-fields.js';
import { SUPPORTED_MODEL_TYPES } from './model-types.js';

export const TRUNCATION_MODES = ['keep_start', 'keep_end'] as const;
export const SAMPLING_STRATEGIES = ['sequential', 'random', 'group_by_length', 'batch_rebalance'] as const;
export const REF_MODEL_DTYPES = ['bfloat16', 'float32'] as const;

/** TrainingArguments' train_sampling_strategy with the config's default: 'random' and 'sequential' are implemented. */
const samplingStrategy = (def: 'random' | 'sequential') =>
  refused(
    oneOf(SAMPLING_STRATEGIES, def),
    "length-grouped samplers are not implemented (group_by_length: true means train_sampling_strategy 'group_by_length' in transformers 5); use 'random' or 'sequential'",
    ['group_by_length', 'batch_rebalance'],
  );
/** DPOTrainer and KTOTrainer override compute_loss, so the Trainer's label smoother never runs for them. */
const labelSmoothingFactorUnread = noEffect(
  num(0, { min: 0, max: 1 }),
  "TRL's DPOTrainer and KTOTrainer compute their own loss and never apply it (DPO's own smoothing is label_smoothing)",
);

const alignkitFields = {
  trainer: oneOf(['dpo', 'sft', 'kto', 'online_dpo'], null),
  model_name_or_path: str(null),
  train_dataset: str(null),
  eval_dataset: str(null),
  /** The chat template: chatml | zephyr | llama2 | llama3 | path/to/file.jinja | the Jinja source itself (as the handbook's recipes). */
  chat_template: str(null),
  /** Maps the names our formats expect to the dataset's columns, e.g. { prompt: question }. */
  dataset_columns: obj(null),
  skip_invalid_rows: bool(false),
  // Pre-1.0 TRL names kept for old configs (e.g. the Zephyr recipe): the prompt keeps its last tokens,
  // the completion its first. TRL 1.13 has max_length alone.
  max_prompt_length: int(null, 1),
  max_completion_length: int(null, 1),
} satisfies Schema;

const sharedTrlFields = {
  bf16: bool(null),
  gradient_checkpointing: bool(true),
  logging_steps: num(10, { min: 0 }),
  dataset_num_proc: int(null, 1),
  max_length: orNull(int(1024, 1)),
  pad_to_multiple_of: int(null, 1),
  router_aux_loss_coef: noEffect(
    num(0.001),
    `only Mixture-of-Experts models add a router loss, and alignkit builds none (model_type ${SUPPORTED_MODEL_TYPES.join(', ')})`,
  ),
} satisfies Schema;

/** DPOConfig and SFTConfig only: KTOConfig has none of these (its collator keeps the first max_length tokens). */
const sequenceTrlFields = {
  truncation_mode: oneOf(TRUNCATION_MODES, 'keep_start'),
  padding_free: bool(false),
  pad_token: str(null),
} satisfies Schema;

export const dpoSchema = {
  ...legacyTrainingFields,
  ...trainingFields,
  ...alignkitFields,
  ...sharedTrlFields,
  ...modelFields,
  ...datasetFields,
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

/** Each trainer's schema, by the name `trainer:` (or `alignkit dpo|sft|kto`) gives it. */
export const trainerSchemas = { dpo: dpoSchema, sft: sftSchema, kto: ktoSchema, online_dpo: onlineDpoSchema } as const;
