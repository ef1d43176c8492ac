// How a trainer loads its model, from TRL 1.13's keys: the dtype (ModelConfig's `dtype`, its old name `torch_dtype`,
// and DPOConfig/SFTConfig/KTOConfig's `model_init_kwargs`, which TRL's create_model_from_path hands to
// from_pretrained), and the checks on the two keyword mappings, model_init_kwargs and gradient_checkpointing_kwargs.
// TRL trains the weights in the dtype they are loaded in: with bfloat16 weights the gradients and AdamW's moments
// are bfloat16 too (bf16 autocast or not).
import { MODEL_DTYPES } from '../config/model-fields.js';
import { configError } from '../errors.js';
import type { Dtype } from '../types/model.js';
import type { LoopConfig } from './recipe.js';

type ModelDtype = (typeof MODEL_DTYPES)[number];

/** The keys of a trainer config this file reads. */
export type ModelInitConfig = Pick<
  LoopConfig,
  | 'dtype'
  | 'torch_dtype'
  | 'model_init_kwargs'
  | 'use_peft'
  | 'gradient_checkpointing'
  | 'gradient_checkpointing_kwargs'
  | 'activation_memory_budget'
>;

const QUANTIZATION = 'quantized (bitsandbytes) training is not implemented in alignkit';

/** model_init_kwargs keys alignkit reads (dtype, revision) or that change nothing here, with the note printed for them. */
const INIT_KWARGS_NOTES: Record<string, string | null> = {
  dtype: null,
  // Read by the hub resolution of model_name_or_path (as TRL passes it to from_pretrained).
  revision: null,
  torch_dtype:
    'model_init_kwargs.torch_dtype has no effect in TRL 1.13 either: its create_model_from_path sets dtype ' +
    '(float32 unless model_init_kwargs.dtype is given), which from_pretrained prefers to the old torch_dtype; write ' +
    'model_init_kwargs.dtype (or dtype) to load the weights in another dtype',
  trust_remote_code:
    'model_init_kwargs.trust_remote_code has no effect: no remote code ever runs in alignkit (architectures are built natively)',
  attn_implementation: 'model_init_kwargs.attn_implementation has no effect: alignkit runs its own attention',
  low_cpu_mem_usage:
    'model_init_kwargs.low_cpu_mem_usage has no effect (transformers 5 ignores it too: weights are always loaded lazily)',
  device_map:
    'model_init_kwargs.device_map has no effect: alignkit places the model as the Trainer does (the accelerator, or the CPU with use_cpu)',
  use_cache: 'model_init_kwargs.use_cache has no effect: training forwards keep no KV cache',
};

function checkDtypeValue(key: string, value: unknown): ModelDtype | null {
  if (value === null || (typeof value === 'string' && (MODEL_DTYPES as readonly string[]).includes(value)))
    return value as ModelDtype | null;
  throw configError(`${key} must be one of ${MODEL_DTYPES.join(', ')} or null, got ${JSON.stringify(value)}`);
}

/**
 * The dtype the trained model (and its reference) is loaded in, `auto` meaning config.json's, as TRL 1.13 decides
 * it: model_init_kwargs.dtype (null: transformers 5's `auto`), else ModelConfig's `dtype` (default float32, null:
 * auto), else the old `torch_dtype` (null meant float32 then). A top-level key and model_init_kwargs.dtype that
 * disagree are refused: TRL's scripts overwrite model_init_kwargs with ModelConfig's, its trainers read only the former.
 */
export function trainingDtype(config: ModelInitConfig): Dtype {
  const dtypeSet = config.dtype !== 'float32';
  if (dtypeSet && config.torch_dtype !== null && (config.dtype ?? 'auto') !== config.torch_dtype) {
    throw configError(
      `dtype: ${config.dtype} and torch_dtype: ${config.torch_dtype} disagree; torch_dtype is the old name of dtype, set one`,
    );
  }
  const topLevel = dtypeSet
    ? { key: 'dtype', value: config.dtype ?? 'auto' }
    : config.torch_dtype !== null
      ? { key: 'torch_dtype', value: config.torch_dtype }
      : null;
  const kwargs = config.model_init_kwargs ?? {};
  if (!Object.hasOwn(kwargs, 'dtype')) return topLevel?.value ?? 'float32';
  const dtype = checkDtypeValue('model_init_kwargs.dtype', kwargs.dtype) ?? 'auto';
  if (topLevel && topLevel.value !== dtype) {
    throw configError(`${topLevel.key}: ${topLevel.value} and model_init_kwargs.dtype: ${dtype} disagree; set one`);
  }
  return dtype;
}

/** model_init_kwargs: what alignkit reads, a note for what changes nothing here, an error for anything else. */
function checkInitKwargs(kwargs: Record<string, unknown>, note: (message: string) => void): void {
  for (const key of Object.keys(kwargs)) {
    if (key === 'quantization_config') throw configError(`model_init_kwargs.quantization_config: ${QUANTIZATION}`);
    if (!Object.hasOwn(INIT_KWARGS_NOTES, key)) {
      throw configError(
        `model_init_kwargs.${key} is not supported by alignkit (it reads ${Object.keys(INIT_KWARGS_NOTES).join(', ')})`,
      );
    }
    const message = INIT_KWARGS_NOTES[key];
    if (message) note(`note: ${message}`);
  }
  if (Object.hasOwn(kwargs, 'revision') && kwargs.revision !== null && typeof kwargs.revision !== 'string') {
    throw configError(`model_init_kwargs.revision must be a string, got ${JSON.stringify(kwargs.revision)}`);
  }
}

/**
 * gradient_checkpointing_kwargs as transformers 5.18's Trainer splits it: every_n_layers and offload for
 * gradient_checkpointing_enable(), the rest for torch.utils.checkpoint.checkpoint. alignkit recomputes the chosen
 * decoder layers (checkpointed-layers.ts) in backward, replaying the forward's random draws.
 */
function checkCheckpointingKwargs(config: ModelInitConfig, note: (message: string) => void): void {
  const kwargs = config.gradient_checkpointing_kwargs;
  if (!kwargs || Object.keys(kwargs).length === 0) return;
  if (!config.gradient_checkpointing) {
    note('note: gradient_checkpointing_kwargs has no effect without gradient_checkpointing (as in transformers)');
    return;
  }
  if (
    config.activation_memory_budget !== null &&
    Object.hasOwn(kwargs, 'every_n_layers') &&
    kwargs.every_n_layers !== 1
  )
    throw configError(
      'activation_memory_budget and gradient_checkpointing_kwargs.every_n_layers both choose the checkpointed layers; set one',
    );
  for (const [key, value] of Object.entries(kwargs)) {
    const where = `gradient_checkpointing_kwargs.${key}`;
    if (key === 'use_reentrant') {
      note(
        `note: ${where} has no effect: alignkit's checkpointing recomputes each decoder layer in backward, which gives the same gradients either way`,
      );
    } else if (key === 'every_n_layers') {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 1)
        throw configError(
          `${where} must be a positive integer (decoder layer i is checkpointed when i % every_n_layers == 0), got ${JSON.stringify(value)}`,
        );
    } else if (key === 'offload') {
      if (value !== false)
        throw configError(`${where}: offloading the saved activations to host memory is not implemented`);
    } else if (key === 'preserve_rng_state') {
      if (value !== true)
        throw configError(
          `${where}: alignkit's recompute always replays the forward's random draws (preserve_rng_state: true)`,
        );
    } else {
      throw configError(
        `${where} is not supported by alignkit (it reads use_reentrant, every_n_layers, offload, preserve_rng_state)`,
      );
    }
  }
}

/**
 * The model keys' checks before any work: model_init_kwargs, gradient_checkpointing_kwargs, the dtype, and LoRA
 * on weights that are not float32 (PEFT keeps the adapters in float32 on a bfloat16 model; alignkit's take the model's
 * dtype), refused. With `auto` the same checks run on the loaded model (policy-setup.ts).
 */
export function checkModelInit(config: ModelInitConfig, note: (message: string) => void): void {
  checkInitKwargs(config.model_init_kwargs ?? {}, note);
  checkCheckpointingKwargs(config, note);
  if (config.activation_memory_budget !== null && !config.gradient_checkpointing)
    note(
      'note: activation_memory_budget has no effect without gradient_checkpointing: every layer keeps its activations (budget 1)',
    );
  const dtype = trainingDtype(config);
  if (dtype === 'float16') refuseFloat16();
  if (config.use_peft && dtype !== 'float32' && dtype !== 'auto') refuseLoraDtype(dtype);
}

/**
 * Training float16 weights is refused (checkModelInit; loadTrainingModel for `auto`): without a loss scaler TRL
 * trains them as they are, and alignkit's float16 steps part from TRL's within a few steps.
 */
export function refuseFloat16(): never {
  throw configError(
    'training float16 weights is not implemented; load the model in bfloat16 (dtype: bfloat16) or in float32 ' +
      '(dtype: float32, with bf16: true for bfloat16 autocast)',
  );
}

/** LoRA on weights that are not float32 is refused (checkModelInit; for `auto` and adapter folders, once loaded). */
export function refuseLoraDtype(dtype: string): never {
  throw configError(
    `LoRA on ${dtype} weights is not implemented: PEFT keeps the adapters in float32 on a ${dtype} model ` +
      "(autocast_adapter_dtype), alignkit's adapters take the model's dtype; load the model in float32 (dtype: float32) and use bf16: true for bfloat16 autocast",
  );
}
