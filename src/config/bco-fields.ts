// The fields of TRL 1.13's experimental BCOConfig (trl/experimental/bco/bco_config.py) over the shared pieces of
// base-trainer-fields.ts. BCO trains on KTO's unpaired data (src/data/unpaired, tokenized as BCOTrainer does:
// tokenize-bco.ts) against a reference model, with the running reward mean δ (native/train/bco_loss.h).
import {
  alignkitFields,
  labelSmoothingFactorUnread,
  SAMPLING_STRATEGIES,
  sharedTrlFields,
} from './base-trainer-fields.js';
import { datasetFields } from './dataset-fields.js';
import { legacyTrainingFields } from './legacy-fields.js';
import { modelFields } from './model-fields.js';
import { bool, int, noEffect, num, oneOf, refused, type Schema } from './schema.js';
import { trainingFields } from './training-fields.js';

/** UDM needs a Python callable and scikit-learn; BCOConfig's three UDM fields do nothing without them. */
const UDM =
  "BCO's underlying distribution matching (UDM) trains scikit-learn's LogisticRegression on prompt embeddings from an " +
  'embedding_func the Python caller passes to BCOTrainer (and pickles it with joblib): Python-only dependencies ' +
  'alignkit does not have, and TRL ignores this key without them too';

// BCOConfig has no pad_to_multiple_of: its DPODataCollatorWithPadding pads to the longest row.
const { pad_to_multiple_of: _noPadMultiple, ...bcoSharedTrlFields } = sharedTrlFields;
void _noPadMultiple;

export const bcoSchema = {
  ...legacyTrainingFields,
  ...trainingFields,
  ...alignkitFields,
  ...bcoSharedTrlFields,
  ...modelFields,
  ...datasetFields,
  learning_rate: num(5e-7, { min: 0 }),
  train_sampling_strategy: noEffect(
    oneOf(SAMPLING_STRATEGIES, 'random'),
    'BCOTrainer always samples its batches sequentially (its _get_train_sampler returns a SequentialSampler)',
  ),
  label_smoothing_factor: labelSmoothingFactorUnread,
  max_prompt_length: refused(
    int(null, 1),
    'TRL 1.13 BCO has no max_prompt_length: a row longer than max_length keeps its whole prompt and loses the end of its completion',
  ),
  max_completion_length: noEffect(
    int(null, 1),
    'TRL reads it for encoder-decoder models only; alignkit trains decoder-only models',
  ),
  router_aux_loss_coef: noEffect(
    num(0.001),
    "BCOConfig has no such field (TRL's BCOTrainer reads the coefficient from the model's config), and alignkit refuses BCO on Mixture-of-Experts models",
  ),
  /** The policy/reference log-ratio scale: the rewards are β·(log π − log π_ref). */
  beta: num(0.1),
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
  /** The reference's log-probs of every row computed once before training, then the reference is freed. */
  precompute_ref_log_probs: bool(false),
  prompt_sample_size: refused(int(1024, 1), UDM),
  min_density_ratio: refused(num(0.5), UDM),
  max_density_ratio: refused(num(10.0), UDM),
} satisfies Schema;
