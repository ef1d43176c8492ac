// The fields of TRL 1.13's RewardConfig (trl/trainer/reward_config.py) over the shared pieces of
// base-trainer-fields.ts: a *ForSequenceClassification model with one label trained on preference pairs with the
// Bradley–Terry loss (src/train/reward.ts, native/train/reward_step.h).
import { alignkitFields, samplingStrategy, sharedTrlFields } from './base-trainer-fields.js';
import { datasetFields } from './dataset-fields.js';
import { legacyTrainingFields } from './legacy-fields.js';
import { modelFields } from './model-fields.js';
import { bool, int, noEffect, num, oneOf, refused, str, type Schema } from './schema.js';
import { trainingFields } from './training-fields.js';

export const rewardSchema = {
  ...legacyTrainingFields,
  ...trainingFields,
  ...alignkitFields,
  ...sharedTrlFields,
  ...modelFields,
  ...datasetFields,
  learning_rate: num(1e-4, { min: 0 }),
  train_sampling_strategy: samplingStrategy('random'),
  label_smoothing_factor: noEffect(
    num(0, { min: 0, max: 1 }),
    "TRL's RewardTrainer computes its own loss and never applies the Trainer's label smoother",
  ),
  // RewardTrainer keeps each pair whole: a pair with a side over max_length is dropped, never cut.
  max_prompt_length: refused(
    int(null, 1),
    'RewardConfig has no max_prompt_length: RewardTrainer drops pairs longer than max_length instead of truncating them',
  ),
  max_completion_length: refused(
    int(null, 1),
    'RewardConfig has no max_completion_length: RewardTrainer drops pairs longer than max_length instead of truncating them',
  ),
  disable_dropout: bool(true),
  /** A .jinja/.j2 file with the chat template (TRL's clone_chat_template from a tokenizer folder is not implemented). */
  chat_template_path: str(null),
  /** The EOS text appended to plain-text chosen/rejected (must be a vocabulary token); null: the tokenizer's. */
  eos_token: str(null),
  /** Deprecated in TRL 1.1 but read: the padding token, which also marks where a row's score is pooled. */
  pad_token: str(null),
  /**
   * PEFT's task type with use_peft: SEQ_CLS trains the score head whole beside the adapters; CAUSAL_LM (ModelConfig's
   * default, under which TRL leaves the head frozen) is refused with use_peft by src/train/reward.ts.
   */
  lora_task_type: oneOf(['CAUSAL_LM', 'SEQ_CLS'], 'CAUSAL_LM'),
  /** Adds coef · mean((r_chosen + r_rejected)²) to the loss (Eisenstein et al. 2023, Eq. 2); TRL suggests 0.01. */
  center_rewards_coefficient: num(null),
} satisfies Schema;
