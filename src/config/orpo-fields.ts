// The fields of TRL 1.13's experimental ORPOConfig and CPOConfig (trl/experimental/{orpo,cpo}/*_config.py) over the
// shared pieces of base-trainer-fields.ts. Both trainers are reference-free: one model, the pairs tokenized by their
// own tokenize_row (src/data/reference-free/). The loss fields' names and defaults are those of the native
// catalogues (native/train/orpo_loss.h, cpo_loss.h), which check them at config load (loss-options.ts).
import { alignkitFields, samplingStrategy, sharedTrlFields } from './base-trainer-fields.js';
import { datasetFields } from './dataset-fields.js';
import { handbookDataFields } from './handbook-data-fields.js';
import { legacyTrainingFields } from './legacy-fields.js';
import { modelFields } from './model-fields.js';
import { bool, int, noEffect, num, refused, str, type Schema } from './schema.js';
import { trainingFields } from './training-fields.js';

/** What ORPOConfig and CPOConfig share beside their loss fields. */
const referenceFreeFields = {
  ...legacyTrainingFields,
  ...trainingFields,
  ...alignkitFields,
  ...sharedTrlFields,
  ...modelFields,
  ...datasetFields,
  learning_rate: num(1e-6, { min: 0 }),
  train_sampling_strategy: samplingStrategy('random'),
  label_smoothing_factor: noEffect(
    num(0, { min: 0, max: 1 }),
    "TRL's ORPOTrainer and CPOTrainer compute their own loss and never apply the Trainer's label smoother",
  ),
  /**
   * Pre-1.0 TRL's ORPO/CPO truncation (the handbook's ORPO recipes set it): when prompt + longer completion exceeds
   * max_length, the prompt keeps its last max_prompt_length tokens, then the completions their first
   * max_length − max_prompt_length. TRL 1.13 has no such key (it cuts the completions alone).
   */
  max_prompt_length: int(null, 1),
  max_completion_length: noEffect(
    int(null, 1),
    'TRL reads it for encoder-decoder models only; alignkit trains decoder-only models',
  ),
  router_aux_loss_coef: noEffect(
    num(0.001),
    "ORPOTrainer and CPOTrainer take a MoE model's router aux loss from its config.json (output_router_logits: true, and its router_aux_loss_coef), not from the training config",
  ),
  disable_dropout: bool(true),
  generate_during_eval: refused(
    bool(false),
    'generate_during_eval logs sample completions to Weights & Biases or Comet, which alignkit does not report to',
  ),
  is_encoder_decoder: refused(
    noEffect(bool(null), 'the model config says it; alignkit trains decoder-only models'),
    'encoder-decoder models are not supported: alignkit trains decoder-only causal language models',
    [true],
  ),
} satisfies Schema;

export const orpoSchema = {
  ...referenceFreeFields,
  /** The old alignment-handbook's dataset_mixer and its companions (src/data/sources/handbook-mixer.ts). */
  ...handbookDataFields,
  /** λ of the paper: the weight of the odds-ratio term beside the chosen NLL. */
  beta: num(0.1),
  /** The pad id of the concatenated [chosen, rejected] batch beyond each side's own padding (null: the tokenizer's). */
  padding_value: int(null),
} satisfies Schema;

export const cpoSchema = {
  ...referenceFreeFields,
  beta: num(0.1),
  /** Conservative smoothing of the sigmoid and simpo losses (TRL ignores it for hinge and ipo, with a warning). */
  label_smoothing: num(0.0, { min: 0, max: 1 }),
  /** One of the native catalogue's CPO loss types: sigmoid, hinge, ipo, simpo. */
  loss_type: str('sigmoid'),
  /** Weight of the chosen NLL (behaviour cloning); 0 with loss_type simpo is SimPO. */
  cpo_alpha: num(1.0),
  /** SimPO's target reward margin γ (loss_type simpo only). */
  simpo_gamma: num(0.5),
  /** AlphaPO's reward shape: r = (1 − p^(−alpha)) / alpha (0: log p). */
  alpha: num(0.0),
} satisfies Schema;
