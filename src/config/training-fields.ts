// transformers 5.18 TrainingArguments fields that alignkit honours, with the defaults TRL's configs give them.
// (transformers 5 folded warmup_ratio into warmup_steps: a value below 1 is a ratio of the total steps.) The keys
// alignkit notes or refuses are in unimplemented-fields.ts, spread in last.
import { anyValue, bool, int, noEffect, num, obj, oneOf, refused, str, strOrBool, type Schema } from './schema.js';
import { reportFields } from './report-fields.js';
import { unimplementedTrainingFields } from './unimplemented-fields.js';

/** transformers 5.18's SchedulerType: every lr_scheduler_type get_scheduler builds (lr-scheduler-kwargs.ts: their arguments). */
export const SCHEDULERS = [
  'linear',
  'cosine',
  'cosine_with_restarts',
  'polynomial',
  'constant',
  'constant_with_warmup',
  'inverse_sqrt',
  'reduce_lr_on_plateau',
  'cosine_with_min_lr',
  'cosine_warmup_with_min_lr',
  'warmup_stable_decay',
  'greedy',
] as const;
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
  /** SFT's loss divides by the label tokens of every rank's micro-batches (data-parallel); DPO and KTO's do not count tokens. */
  average_tokens_across_devices: refused(
    bool(true),
    'only true is implemented: a data-parallel SFT loss is normalised by the label tokens of all ranks, as TRL does by default',
  ),
  weight_decay: num(0.0, { min: 0 }),
  adam_beta1: num(0.9, { min: 0, max: 1 }),
  adam_beta2: num(0.999, { min: 0, max: 1 }),
  adam_epsilon: num(1e-8, { min: 0 }),
  max_grad_norm: num(1.0, { min: 0 }),
  optim: oneOf(OPTIMIZERS, 'adamw_torch_fused'),
  lr_scheduler_type: oneOf(SCHEDULERS, 'linear'),
  lr_scheduler_kwargs: obj(null),
  /**
   * The eval metric reduce_lr_on_plateau and greedy step with ('eval_' prefixed when it is not; null: 'loss', as
   * TrainingArguments sets it for those schedulers).
   */
  metric_for_best_model: str(null),
  warmup_steps: num(0, { min: 0 }),
  logging_first_step: bool(false),
  logging_strategy: oneOf(STRATEGIES, 'steps'),
  logging_nan_inf_filter: noEffect(
    bool(true),
    'a step whose loss or gradient norm is NaN or infinite stops the run before its update (ERR_NOT_FINITE), so no such loss reaches the log to be filtered',
  ),
  save_steps: num(500, { min: 0 }),
  save_strategy: oneOf(STRATEGIES, 'steps'),
  save_total_limit: int(null, 1),
  save_only_model: bool(false),
  eval_steps: num(null, { min: 0 }),
  eval_strategy: oneOf(STRATEGIES, 'no'),
  eval_on_start: bool(false),
  /** Steps ('steps') or epochs ('epoch') before the first evaluation of eval_strategy (not eval_on_start's). */
  eval_delay: num(0, { min: 0 }),
  seed: int(42),
  data_seed: int(null),
  fp16: bool(false),
  /** A checkpoint folder, or true for the newest output_dir/checkpoint-N (false: start afresh). */
  resume_from_checkpoint: strOrBool(null),
  /** Resuming mid-epoch, start that epoch's batches from its first instead of where the checkpoint left them. */
  ignore_data_skip: bool(false),
  enable_jit_checkpoint: noEffect(
    bool(false),
    "alignkit's command line always checkpoints on SIGTERM: the running optimizer step finishes, a checkpoint is saved and it exits with 143 (library callers pass train() an AbortSignal)",
  ),
  dataloader_drop_last: bool(false),
  run_name: noEffect(
    str(null),
    'it names the run for wandb, mlflow, trackio and the like, integrations alignkit does not have (report_to)',
  ),
  disable_tqdm: bool(null),
  use_cpu: bool(false),
  /** Seconds a rendezvous or a collective waits for the other data-parallel ranks before failing. */
  ddp_timeout: int(1800, 1),
  /** DistributedDataParallel's bucket_cap_mb (null: its 25 MiB). */
  ddp_bucket_cap_mb: num(null, { min: 0 }),
  /** The c10d backend (null: nccl when training on CUDA, gloo on CPU). */
  ddp_backend: oneOf(['gloo', 'nccl'], null),
  /**
   * alignkit's sharding across data-parallel ranks, as DeepSpeed's ZeRO: 0 off (DDP), 1 optimizer state (torch's
   * ZeroRedundancyOptimizer), 2 optimizer state and gradients (each gradient reduced to its owner only, FSDP's
   * SHARD_GRAD_OP), 3 parameters too (FSDP's FULL_SHARD: each decoder layer gathered for its forward and its
   * recomputed backward, native/distributed/full_shard.h).
   */
  zero_stage: int(0, 0),
  /**
   * TrainingArguments' FSDP switch: full_shard (or fsdp: true) runs as zero_stage 3, shard_grad_op (or fsdp_config
   * reshard_after_forward: false) as 2, no_shard as 0; hybrid sharding and offload are refused (src/config/fsdp.ts).
   */
  fsdp: anyValue(null),
  /** FSDP's tuning (a mapping or a JSON file's path); each key is noted or refused (src/config/fsdp.ts). */
  fsdp_config: anyValue(null),
  ...reportFields,
  ...unimplementedTrainingFields,
} satisfies Schema;
