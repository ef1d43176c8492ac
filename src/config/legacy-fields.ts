// Keys of transformers 4.x's TrainingArguments and of TRL before 1.0 that recipes written for them still carry
// (transformers 5 removed them; test/fixtures/trl/config-fields.json has what 5.18 and TRL 1.13 accept). A key
// that was another spelling of a current one is renamed as those versions read it (renameLegacyKeys); the others
// are fields here, noted or refused like any key alignkit does not implement.
import { configError } from '../errors.js';
import { anyValue, bool, int, noEffect, oneOf, refused, str, type Schema } from './schema.js';

const REMOVED = 'removed in transformers 5';
const SCRIPTS = `${REMOVED}; the Trainer never read it (example scripts did)`;
const FSDP =
  'alignkit wraps no FSDP modules of its own choosing: it shards as zero_stage: 1 (optimizer state), zero_stage: 2 (optimizer state and gradients, also spelled fsdp: shard_grad_op) and zero_stage: 3 (parameters too, each decoder layer one unit, also spelled fsdp: full_shard)';

/** transformers 4.57's fields that 5 removed without a new spelling, with their 4.57 defaults. */
export const legacyTrainingFields = {
  overwrite_output_dir: noEffect(
    bool(false),
    `${SCRIPTS}: alignkit writes into output_dir whatever it holds, as the Trainer does; to continue from its last checkpoint set resume_from_checkpoint: true`,
  ),
  save_safetensors: noEffect(bool(true), `${REMOVED}; alignkit always writes safetensors`),
  use_mps_device: noEffect(bool(false), `${REMOVED}; alignkit trains on CUDA when it has it, else on the CPU`),
  jit_mode_eval: noEffect(bool(false), `${REMOVED}; alignkit has no TorchScript tracing`),
  fp16_opt_level: noEffect(str('O1'), `${REMOVED}; it was Apex AMP's, which alignkit does not use`),
  half_precision_backend: noEffect(
    oneOf(['auto', 'apex', 'cpu_amp'], 'auto'),
    `${REMOVED}; bf16 is libtorch's autocast`,
  ),
  fp16_backend: noEffect(oneOf(['auto', 'apex', 'cpu_amp'], 'auto'), `${REMOVED}; bf16 is libtorch's autocast`),
  tpu_num_cores: noEffect(int(null, 1), `${REMOVED}; alignkit does not run on TPUs`),
  tpu_metrics_debug: noEffect(bool(false), `${REMOVED}; alignkit does not run on TPUs`),
  past_index: noEffect(
    int(-1),
    `${REMOVED}; it fed Transformer-XL/XLNet memories back, which alignkit's models do not have`,
  ),
  use_legacy_prediction_loop: noEffect(bool(false), `${REMOVED}; alignkit has one evaluation loop`),
  include_inputs_for_metrics: noEffect(bool(false), `${REMOVED}; alignkit has no compute_metrics to pass inputs to`),
  mp_parameters: noEffect(str(''), `${REMOVED}; SageMaker model parallelism is not used`),
  ray_scope: noEffect(str('last'), `${REMOVED}; it was for Ray hyperparameter search, which alignkit does not run`),
  include_tokens_per_second: noEffect(
    bool(false),
    `${REMOVED}; the summary has samples and steps per second, and each trainer logs num_tokens`,
  ),
  adafactor: refused(
    bool(false),
    `${REMOVED} (it meant optim: adafactor); Adafactor is not implemented: use optim adamw_torch_fused or adamw_torch`,
  ),
  fsdp_min_num_params: refused(int(0, 0), `${REMOVED}; ${FSDP}`),
  fsdp_transformer_layer_cls_to_wrap: refused(anyValue(null), `${REMOVED}; ${FSDP}`),
  push_to_hub_model_id: refused(str(null), `${REMOVED}: write hub_model_id (org/name)`),
  push_to_hub_organization: refused(str(null), `${REMOVED}: write hub_model_id as organization/name`),
  push_to_hub_token: refused(str(null), `${REMOVED}: write hub_token (or set HF_TOKEN)`),
} satisfies Schema;

interface Rename {
  to: string;
  /** The old value as the new key's value, or undefined when the old key is left at what changes nothing. */
  value: (old: unknown, where: string) => unknown;
  /** Only for these trainers (TRL renames); transformers' apply to every trainer. */
  trainers?: readonly string[];
  /** The old key was a true/false flag although the new one is not (typing `--group_by_length` on the command line). */
  boolean?: true;
}

const same = (old: unknown) => old;

/**
 * Old spellings and what transformers 4.x / TRL made of them. transformers 5 reads a warmup_steps below 1 as a ratio
 * of the total steps, which is exactly warmup_ratio (4.x: ceil(ratio × total) when warmup_steps was 0).
 */
const RENAMES: Record<string, Rename> = {
  warmup_ratio: {
    to: 'warmup_steps',
    value: (old, where) => {
      const ratio = typeof old === 'string' && old.trim() !== '' ? Number(old) : old;
      if (typeof ratio !== 'number' || !(ratio >= 0 && ratio <= 1))
        throw configError(where, `'warmup_ratio' must be a number in [0, 1], got ${JSON.stringify(old)}`);
      if (ratio === 1)
        throw configError(
          where,
          'warmup_ratio: 1 (warm up over every step) has no transformers 5 spelling (warmup_steps: 1 is one step); set warmup_steps to the number of training steps',
        );
      return ratio;
    },
  },
  evaluation_strategy: { to: 'eval_strategy', value: same },
  per_gpu_train_batch_size: { to: 'per_device_train_batch_size', value: same },
  per_gpu_eval_batch_size: { to: 'per_device_eval_batch_size', value: same },
  no_cuda: { to: 'use_cpu', value: (old) => (old === false ? undefined : old), boolean: true },
  torchdynamo: { to: 'torch_compile_backend', value: same },
  group_by_length: {
    to: 'train_sampling_strategy',
    value: (old) => (old === true ? 'group_by_length' : old === false ? undefined : old),
    boolean: true,
  },
  max_seq_length: { to: 'max_length', value: same, trainers: ['sft'] },
};

/** Every old spelling with the key it becomes (and the trainers it is for, when not all): for docs/recipes.md. */
export function legacySpellings(): { old: string; to: string; trainers?: readonly string[] }[] {
  return Object.entries(RENAMES).map(([old, rename]) => ({ old, to: rename.to, trainers: rename.trainers }));
}

/** The key an old spelling stands for with `trainer`, and whether the old key was a flag, or undefined. */
export function legacySpelling(key: string, trainer: string): { to: string; boolean: boolean } | undefined {
  const rename = Object.hasOwn(RENAMES, key) ? RENAMES[key]! : undefined;
  if (!rename || (rename.trainers && !rename.trainers.includes(trainer))) return undefined;
  return { to: rename.to, boolean: rename.boolean === true };
}

/**
 * `values` with each old spelling replaced by the current key. Both spellings with different values is an error
 * (except warmup_steps: 0 beside warmup_ratio, which 4.x read as the ratio).
 */
export function renameLegacyKeys(
  values: Record<string, unknown>,
  trainer: string,
  where: string,
): Record<string, unknown> {
  const out = { ...values };
  for (const [old, rename] of Object.entries(RENAMES)) {
    if (!(old in out) || (rename.trainers && !rename.trainers.includes(trainer))) continue;
    const value = rename.value(out[old], where);
    delete out[old];
    if (value === undefined) continue;
    const current = out[rename.to];
    const unset = current === undefined || (old === 'warmup_ratio' && Number(current) === 0);
    if (!unset && JSON.stringify(current) !== JSON.stringify(value)) {
      throw configError(
        where,
        `'${old}: ${JSON.stringify(values[old])}' (the old spelling of ${rename.to}) disagrees with '${rename.to}: ${JSON.stringify(current)}'; keep one`,
      );
    }
    out[rename.to] = value;
  }
  return out;
}
