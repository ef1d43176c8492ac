// transformers 5.18 TrainingArguments keys that alignkit does not implement, each with TRL's default and why: accepted
// with a printed note when they would change nothing alignkit computes (data loader workers, log verbosity, compile,
// integrations...), refused when the run they ask for is not one alignkit can give (DeepSpeed, FSDP, NEFTune...).
// Keys about the model (model-fields.ts), reporting and the Hub (report-fields.ts) and schedulers live elsewhere.
import { anyValue, bool, int, noEffect, num, oneOf, refused, str, type Schema } from './schema.js';

export const LOG_LEVELS = ['debug', 'info', 'warning', 'error', 'critical', 'passive'] as const;

const DATALOADER =
  "alignkit's batches are collated in the training process from the tokenized Arrow cache; there is no PyTorch DataLoader and no worker processes";
const VERBOSITY =
  'alignkit has no Python logging to set a level for: it prints notes, progress and errors, and the CLI shows progress unless disable_tqdm';
const COMPILE = "there is no torch.compile in libtorch's C++ API; alignkit's step runs its own fused kernels";
const TRACKIO = 'used only by the trackio integration, which alignkit does not have (report_to)';
const PREDICTIONS =
  "alignkit's evaluation computes the loss and the trainer's metrics; it gathers no predictions for a compute_metrics";
const DDP =
  "alignkit's data parallelism averages every parameter's gradient each step (a parameter without one contributes zeros) and has no buffers to broadcast; this DistributedDataParallel switch has nothing to act on";
const PARALLEL =
  'alignkit runs one process per device with DistributedDataParallel semantics; sharding exists as zero_stage: 1 (DeepSpeed ZeRO-1: optimizer state), zero_stage: 2 (ZeRO-2: optimizer state and gradients, also spelled fsdp: shard_grad_op) and zero_stage: 3 (ZeRO-3: parameters too, also spelled fsdp: full_shard)';
const BEST_MODEL =
  'alignkit keeps no best checkpoint (load_best_model_at_end and save_strategy "best" are not implemented); set save_total_limit and pick a checkpoint-N by its eval metrics in metrics.jsonl';

export const unimplementedTrainingFields = {
  optim_args: noEffect(
    str(null),
    'only Trainer optimizers alignkit does not have (AnyPrecisionAdamW, GaLore, APOLLO...) read it; adamw_torch and adamw_torch_fused ignore it there too',
  ),
  optim_target_modules: noEffect(
    anyValue(null),
    'only the GaLore and APOLLO optimizers read it, which alignkit does not have (optim: adamw_torch_fused or adamw_torch)',
  ),
  tf32: noEffect(
    bool(null),
    "alignkit leaves libtorch's TF32 switches at their defaults (no TF32 for CUDA matmuls); on CPU there is no TF32",
  ),
  torch_compile: noEffect(bool(false), COMPILE),
  torch_compile_backend: noEffect(str(null), COMPILE),
  torch_compile_mode: noEffect(str(null), COMPILE),
  use_cache: noEffect(bool(false), 'training keeps no key/value cache: every forward pass sees whole sequences'),
  torch_empty_cache_steps: noEffect(
    int(null, 1),
    'alignkit never empties the CUDA caching allocator; doing so changes only when memory goes back to the driver, never the result',
  ),
  log_on_each_node: noEffect(bool(true), 'rank 0 alone logs, on one node or several'),
  log_level: noEffect(oneOf(LOG_LEVELS, 'passive'), VERBOSITY),
  log_level_replica: noEffect(oneOf(LOG_LEVELS, 'warning'), 'ranks other than 0 print nothing but their errors'),
  include_num_input_tokens_seen: noEffect(
    anyValue('no'),
    "num_input_tokens_seen is not logged; each trainer logs TRL's num_tokens (the running count of attention tokens)",
  ),
  project: noEffect(str('huggingface'), TRACKIO),
  trackio_space_id: noEffect(str(null), TRACKIO),
  trackio_bucket_id: noEffect(str(null), TRACKIO),
  trackio_static_space_id: noEffect(anyValue(null), TRACKIO),
  prediction_loss_only: noEffect(bool(false), PREDICTIONS),
  eval_do_concat_batches: noEffect(bool(true), PREDICTIONS),
  eval_use_gather_object: noEffect(bool(false), PREDICTIONS),
  eval_accumulation_steps: noEffect(int(null, 1), PREDICTIONS),
  include_for_metrics: noEffect(anyValue([]), PREDICTIONS),
  batch_eval_metrics: noEffect(bool(false), PREDICTIONS),
  save_on_each_node: noEffect(
    bool(false),
    'rank 0 alone writes checkpoints and the model, into output_dir (which every node must share to resume)',
  ),
  restore_callback_states_from_checkpoint: noEffect(
    bool(false),
    'alignkit has no Trainer callbacks whose state a checkpoint would hold',
  ),
  full_determinism: noEffect(
    bool(false),
    "alignkit seeds every draw from seed and data_seed; it has no switch to libtorch's deterministic-only algorithms",
  ),
  dataloader_num_workers: noEffect(int(0, 0), DATALOADER),
  dataloader_pin_memory: noEffect(bool(true), DATALOADER),
  dataloader_persistent_workers: noEffect(bool(false), DATALOADER),
  dataloader_prefetch_factor: noEffect(int(null, 0), DATALOADER),
  dataloader_multiprocessing_context: noEffect(str(null), DATALOADER),
  dataloader_in_order: noEffect(bool(true), DATALOADER),
  remove_unused_columns: noEffect(
    bool(true),
    'each trainer reads only the columns its data format names (and dataset_columns maps); other columns are never tokenized',
  ),
  label_names: noEffect(anyValue(null), 'each trainer builds its own labels (completion tokens) from the data format'),
  length_column_name: noEffect(
    str('length'),
    "only train_sampling_strategy 'group_by_length' and 'batch_rebalance' read it, which alignkit does not implement",
  ),
  ddp_find_unused_parameters: noEffect(bool(null), DDP),
  ddp_broadcast_buffers: noEffect(bool(null), DDP),
  ddp_static_graph: noEffect(bool(null), DDP),
  debug: noEffect(
    anyValue(''),
    "transformers' debug options (underflow_overflow, tpu_metrics_debug) instrument PyTorch modules alignkit does not run",
  ),
  skip_memory_metrics: noEffect(bool(true), 'alignkit does not add memory metrics to the summary'),
  do_train: noEffect(bool(false), 'alignkit always trains (the Trainer never read it either; scripts did)'),
  do_eval: noEffect(
    bool(false),
    "evaluation runs as eval_strategy (and eval_on_start) say, whose last evaluation is the one a script's final trainer.evaluate() would repeat",
  ),
  do_predict: noEffect(bool(false), 'alignkit runs no prediction pass (the Trainer never read it either; scripts did)'),
  local_rank: noEffect(
    int(-1),
    "a worker's rank comes from torchrun's LOCAL_RANK variable (alignkit train --nproc_per_node sets it)",
  ),
  greater_is_better: noEffect(bool(null), BEST_MODEL),
  bf16_full_eval: refused(
    bool(false),
    'evaluation runs in the training precision (bf16 autocast over float32 weights, or float32); casting the whole model to bfloat16 for it is not implemented',
  ),
  fp16_full_eval: refused(
    bool(false),
    'evaluation runs in the training precision (bf16 autocast over float32 weights, or float32); float16 evaluation is not implemented',
  ),
  neftune_noise_alpha: refused(
    num(null, { min: 0 }),
    'NEFTune (noise added to the input embeddings while training) is not implemented',
  ),
  auto_find_batch_size: refused(
    bool(false),
    'alignkit does not retry smaller batches after running out of memory; set per_device_train_batch_size (and gradient_accumulation_steps for the same effective batch)',
  ),
  load_best_model_at_end: refused(bool(false), BEST_MODEL),
  accelerator_config: refused(
    anyValue(null),
    "alignkit does not use Accelerate; its data parallelism shards each batch as Accelerate's defaults do (even_batches, no split_batches)",
  ),
  parallelism_config: refused(
    anyValue(null),
    `tensor, context and sequence parallelism are not implemented: ${PARALLEL}`,
  ),
  deepspeed: refused(anyValue(null), `DeepSpeed is not used: ${PARALLEL}`),
} satisfies Schema;
