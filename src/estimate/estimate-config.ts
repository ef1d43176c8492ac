// A training config's memory plan (memory-plan.ts) as train() would run it: the model's shape from its config.json
// (model_name_or_path resolved as training resolves it, src/hub), the dtype model-init.ts loads it in, the
// trainer's reference, LoRA, checkpointing, batch and max_length; and the memory this machine has for it.
import type { TrainConfig } from '../config/load-config.js';
import { distributedEnv } from '../distributed/launch-env.js';
import { configError } from '../errors.js';
import { resolveModelPaths } from '../hub/resolve-models.js';
import { trainingDtype } from '../train/model-init.js';
import { availableMemory, type AvailableMemory } from './available-memory.js';
import { memoryPlan, type MemoryPlan, type PlanSettings } from './memory-plan.js';
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

/** PEFT's default targets for the Llama family, as src/train/peft.ts. */
const DEFAULT_LORA_TARGETS = ['q_proj', 'v_proj'];
/** max_length null: no truncation; the plan then assumes TRL's default 1024 tokens. */
const UNTRUNCATED_LENGTH = 1024;

/** The settings train() runs `config` with, on `shape` (for dtype `auto`). */
export function planSettings(config: TrainConfig, shape: ModelShape, device: 'cpu' | 'cuda'): PlanSettings {
  if (!config.model_name_or_path) throw configError('model_name_or_path is required to estimate memory');
  const loaded = trainingDtype(config);
  const dtype = loaded === 'auto' ? (shape.dtype ?? 'float32') : loaded;
  if (dtype !== 'float32' && dtype !== 'bfloat16')
    throw configError(`the model loads in ${dtype}, which alignkit does not train (float32 or bfloat16)`);
  const values = config as Record<string, unknown>;
  const lora = config.use_peft
    ? { r: config.lora_r, targets: config.lora_target_modules ?? DEFAULT_LORA_TARGETS }
    : null;
  const trainer = config.trainer;
  const maxLength = typeof values.max_length === 'number' ? values.max_length : UNTRUNCATED_LENGTH;
  const hasReference = trainer !== 'sft';
  return {
    trainer,
    weightDtype: dtype,
    bf16: config.bf16 ?? true,
    gradientCheckpointing: config.gradient_checkpointing,
    batchSize: config.per_device_train_batch_size,
    maxLength,
    lora,
    reference: !hasReference ? 'none' : lora ? 'base' : 'copy',
    precomputeRefLogProbs: hasReference && values.precompute_ref_log_probs === true && values.sync_ref_model !== true,
    zeroStage: typeof values.zero_stage === 'number' ? values.zero_stage : 0,
    worldSize: distributedEnv()?.worldSize ?? 1,
    device,
  };
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
