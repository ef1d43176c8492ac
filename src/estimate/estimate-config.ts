// A training config's memory plan (memory-plan.ts) as train() would run it: the model's shape from its config.json
// (model_name_or_path resolved as training resolves it, src/hub), the dtype model-init.ts loads it in, the
// trainer's reference, LoRA, checkpointing, batch and max_length; and the memory this machine has for it.
import type { TrainConfig } from '../config/load-config.js';
import { distributedEnv } from '../distributed/launch-env.js';
import { configError } from '../errors.js';
import { resolveModelPaths } from '../hub/resolve-models.js';
import { trainingDtype } from '../train/model-init.js';
import { loraTargets } from '../train/peft.js';
import { availableMemory, type AvailableMemory } from './available-memory.js';
import { memoryPlan, type MemoryPlan, type PlanSettings, type Trainer } from './memory-plan.js';

/** Trainers that hold a frozen reference model beside the policy (ORPO, CPO/SimPO and reward modelling have none). */
const REFERENCE_TRAINERS: readonly Trainer[] = ['dpo', 'kto', 'bco', 'online_dpo'];
import { readModelShape, type ModelShape } from './model-shape.js';

export interface Estimate {
  model: string;
  shape: ModelShape;
  settings: PlanSettings;
  plan: MemoryPlan;
  available: AvailableMemory;
  /** Whether the plan's total fits the memory available now; null when unknown. */
  fits: boolean | null;
}

/** max_length null: no truncation; the plan then assumes TRL's default 1024 tokens. */
const UNTRUNCATED_LENGTH = 1024;
/** DDP's bucket_cap_mb default (native/distributed/gradient_reducer.h). */
const DDP_BUCKET_MB = 25;

/** The settings train() runs `config` with, on `shape` (for dtype `auto`). */
export function planSettings(config: TrainConfig, shape: ModelShape, device: 'cpu' | 'cuda'): PlanSettings {
  if (!config.model_name_or_path) throw configError('model_name_or_path is required to estimate memory');
  const loaded = trainingDtype(config);
  const dtype = loaded === 'auto' ? (shape.dtype ?? 'float32') : loaded;
  if (dtype !== 'float32' && dtype !== 'bfloat16')
    throw configError(`the model loads in ${dtype}, which alignkit does not train (float32 or bfloat16)`);
  // Keys other helpers' schemas may not declare yet are read loosely: TRL's names, as src/train reads them.
  const values = config as Record<string, unknown>;
  const lora = config.use_peft
    ? {
        r: config.lora_r,
        targets: loraTargets(config.lora_target_modules, shape.modelType),
        // DPO's and KTO's disable_dropout (default true) turns LoRA's dropout off too.
        dropout:
          values.disable_dropout === true ? 0 : typeof values.lora_dropout === 'number' ? values.lora_dropout : 0.05,
      }
    : null;
  const trainer = config.trainer;
  const maxLength = typeof values.max_length === 'number' ? values.max_length : UNTRUNCATED_LENGTH;
  const hasReference = REFERENCE_TRAINERS.includes(trainer);
  const kwargs = (values.gradient_checkpointing_kwargs ?? {}) as Record<string, unknown>;
  const refDtype = values.ref_model_dtype;
  const bucketMb = values.ddp_bucket_cap_mb;
  const zeroStage = typeof values.zero_stage === 'number' ? values.zero_stage : 0;
  return {
    trainer,
    weightDtype: dtype,
    bf16: config.bf16 ?? true,
    // ZeRO-3 recomputes every layer, whatever gradient_checkpointing says (its gathers are per layer).
    gradientCheckpointing: config.gradient_checkpointing || zeroStage >= 3,
    checkpointEveryNLayers: typeof kwargs.every_n_layers === 'number' && zeroStage < 3 ? kwargs.every_n_layers : 1,
    activationMemoryBudget:
      typeof values.activation_memory_budget === 'number' && zeroStage < 3 ? values.activation_memory_budget : null,
    batchSize: config.per_device_train_batch_size,
    maxLength,
    lora,
    reference: !hasReference ? 'none' : lora ? 'base' : 'copy',
    // ref_model_dtype changes nothing with LoRA (the reference is the policy itself).
    referenceDtype: !lora && (refDtype === 'float32' || refDtype === 'bfloat16') ? refDtype : null,
    precomputeRefLogProbs: hasReference && values.sync_ref_model !== true && precomputes(config),
    zeroStage,
    worldSize: distributedEnv()?.worldSize ?? 1,
    bucketBytes: (typeof bucketMb === 'number' ? bucketMb : DDP_BUCKET_MB) * 2 ** 20,
    device,
  };
}

/**
 * precompute_ref_log_probs as written, or (null) as src/train/auto-precompute.ts turns it on when the training set is
 * reused: here only when num_train_epochs > 1 decides it (max_steps past one epoch needs the dataset's size, which the
 * estimate does not read: it then plans the reference kept, the larger) and for DPO (KTO's KL rows decide too).
 */
function precomputes(config: TrainConfig): boolean {
  const values = config as Record<string, unknown>;
  const written = values.precompute_ref_log_probs;
  if (written === true || written === false) return written;
  const epochs = typeof values.num_train_epochs === 'number' ? values.num_train_epochs : 1;
  const maxSteps = typeof values.max_steps === 'number' ? values.max_steps : -1;
  return config.trainer === 'dpo' && maxSteps <= 0 && epochs > 1;
}

/** The device train() would use: the CPU with use_cpu or without a CUDA build/device. */
async function trainingDevice(config: TrainConfig): Promise<'cpu' | 'cuda'> {
  if (config.use_cpu) return 'cpu';
  const { info } = await import('../info.js');
  return info().cudaAvailable ? 'cuda' : 'cpu';
}

/** The plan for `config` (hub ids resolved as training resolves them; no weights read), and whether it fits. */
export async function estimateConfig(
  config: TrainConfig,
  options: { log?: (message: string) => void; device?: 'cpu' | 'cuda' } = {},
): Promise<Estimate> {
  const log = options.log ?? (() => {});
  const resolved = await resolveModelPaths(config, log);
  if (!resolved.model_name_or_path) throw configError('model_name_or_path is required to estimate memory');
  const shape = await readModelShape(resolved.model_name_or_path);
  const device = options.device ?? (await trainingDevice(config));
  const settings = planSettings(resolved, shape, device);
  const plan = memoryPlan(shape, settings);
  const available = availableMemory(device);
  return {
    model: resolved.model_name_or_path,
    shape,
    settings,
    plan,
    available,
    fits: available.available === null ? null : plan.total <= available.available,
  };
}
