// transformers 5.18 TrainingArguments fields that alignkit honours, with the defaults TRL's configs give them.
// (transformers 5 folded warmup_ratio into warmup_steps: a value below 1 is a ratio of the total steps.)
import { bool, int, num, obj, oneOf, str, strOrBool, type Schema } from './schema.js';

export const SCHEDULERS = ['linear', 'cosine', 'constant', 'constant_with_warmup'] as const;
export const STRATEGIES = ['no', 'steps', 'epoch'] as const;
/** The `optim` values alignkit implements: torch.optim.AdamW fused (TrainingArguments' default) and not. */
export const OPTIMIZERS = ['adamw_torch_fused', 'adamw_torch'] as const;

export const trainingFields = {
  output_dir: str(null),
  num_train_epochs: num(3.0, { min: 0 }),
  max_steps: int(-1),
  per_device_train_batch_size: int(8, 1),
  per_device_eval_batch_size: int(8, 1),
  gradient_accumulation_steps: int(1, 1),
  weight_decay: num(0.0, { min: 0 }),
  adam_beta1: num(0.9, { min: 0, max: 1 }),
  adam_beta2: num(0.999, { min: 0, max: 1 }),
  adam_epsilon: num(1e-8, { min: 0 }),
  max_grad_norm: num(1.0, { min: 0 }),
  optim: oneOf(OPTIMIZERS, 'adamw_torch_fused'),
  lr_scheduler_type: oneOf(SCHEDULERS, 'linear'),
  lr_scheduler_kwargs: obj(null),
  warmup_steps: num(0, { min: 0 }),
  logging_first_step: bool(false),
  logging_strategy: oneOf(STRATEGIES, 'steps'),
  save_steps: num(500, { min: 0 }),
  save_strategy: oneOf(STRATEGIES, 'steps'),
  save_total_limit: int(null, 1),
  save_only_model: bool(false),
  eval_steps: num(null, { min: 0 }),
  eval_strategy: oneOf(STRATEGIES, 'no'),
  eval_on_start: bool(false),
  seed: int(42),
  data_seed: int(null),
  fp16: bool(false),
  /** A checkpoint folder, or true for the newest output_dir/checkpoint-N (false: start afresh). */
  resume_from_checkpoint: strOrBool(null),
  dataloader_drop_last: bool(false),
  run_name: str(null),
  disable_tqdm: bool(null),
  use_cpu: bool(false),
  /** Seconds a rendezvous or a collective waits for the other data-parallel ranks before failing. */
  ddp_timeout: int(1800, 1),
  /** DistributedDataParallel's bucket_cap_mb (null: its 25 MiB). */
  ddp_bucket_cap_mb: num(null, { min: 0 }),
  /** The c10d backend (null: nccl when training on CUDA, gloo on CPU). */
  ddp_backend: oneOf(['gloo', 'nccl'], null),
  /**
   * alignkit's optimizer-state sharding across data-parallel ranks, as DeepSpeed's ZeRO stage 1 (and torch's
   * ZeroRedundancyOptimizer): 0 off, 1 on. Higher stages are not implemented.
   */
  zero_stage: int(0, 0),
} satisfies Schema;
