// The pieces every trainer's schema spreads (trainer-fields.ts and the schema files of the other trainers import
// them from here, so that none imports trainer-fields.ts back): alignkit's own keys for what TRL takes as Python
// arguments (model, datasets, chat template), the fields every TRL config shares or re-defaults, and the
// sequence fields of DPOConfig and SFTConfig.
import { noEffect, num, obj, oneOf, orNull, refused, bool, int, str, type Schema } from './schema.js';

/** Every `trainer:` name (and `alignkit <name> recipe.yaml` for those TRL has a config class for). */
export const TRAINER_NAMES = ['dpo', 'sft', 'kto', 'online_dpo', 'orpo', 'cpo', 'bco', 'reward'] as const;
export const TRUNCATION_MODES = ['keep_start', 'keep_end'] as const;
export const SAMPLING_STRATEGIES = ['sequential', 'random', 'group_by_length', 'batch_rebalance'] as const;
export const REF_MODEL_DTYPES = ['bfloat16', 'float32'] as const;

/** TrainingArguments' train_sampling_strategy with the config's default: 'random' and 'sequential' are implemented. */
export const samplingStrategy = (def: 'random' | 'sequential') =>
  refused(
    oneOf(SAMPLING_STRATEGIES, def),
    "length-grouped samplers are not implemented (group_by_length: true means train_sampling_strategy 'group_by_length' in transformers 5); use 'random' or 'sequential'",
    ['group_by_length', 'batch_rebalance'],
  );
/** DPOTrainer and KTOTrainer override compute_loss, so the Trainer's label smoother never runs for them. */
export const labelSmoothingFactorUnread = noEffect(
  num(0, { min: 0, max: 1 }),
  "TRL's DPOTrainer and KTOTrainer compute their own loss and never apply it (DPO's own smoothing is label_smoothing)",
);

export const alignkitFields = {
  trainer: oneOf(TRAINER_NAMES, null),
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

export const sharedTrlFields = {
  bf16: bool(null),
  gradient_checkpointing: bool(true),
  logging_steps: num(10, { min: 0 }),
  dataset_num_proc: int(null, 1),
  max_length: orNull(int(1024, 1)),
  pad_to_multiple_of: int(null, 1),
  // A MoE model's steps add router_aux_loss_coef × its load-balancing loss (native/train/forward_options.h); a dense
  // model has no router, and TRL then ignores the key too.
  router_aux_loss_coef: num(0.001),
} satisfies Schema;

/** DPOConfig and SFTConfig only: KTOConfig has none of these (its collator keeps the first max_length tokens). */
export const sequenceTrlFields = {
  truncation_mode: oneOf(TRUNCATION_MODES, 'keep_start'),
  padding_free: bool(false),
  pad_token: str(null),
} satisfies Schema;
