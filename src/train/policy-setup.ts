// Loading the model a recipe trains: the device and dtype the HF Trainer picks, a PEFT adapter or fresh LoRA
// adapters, the checkpoint when resuming, its optimizer, and the data-parallel attachment.
import { DataParallel } from '../distributed/data-parallel.js';
import { distributedEnv } from '../distributed/launch-env.js';
import { configError } from '../errors.js';
import { info, manualSeed } from '../info.js';
import { loadModel, type Model } from '../model.js';
import type { Device, Dtype } from '../types/model.js';
import { checkpointToResume, loadCheckpoint } from './checkpoint.js';
import { refuseFloat16, refuseLoraDtype, trainingDtype, type ModelInitConfig } from './model-init.js';
import { createOptimizer } from './optimizer.js';
import { adapterBase, loraOptions } from './peft.js';
import type { LoopConfig } from './recipe.js';

/** The model's output layer: a causal LM's lm_head, or a reward model's one-label score head (trainer: reward). */
export type ModelHead = 'lm' | 'score';

/**
 * As the HF Trainer: the accelerator when there is one (cuda:LOCAL_RANK under a data-parallel launcher), unless
 * use_cpu; the weights in the dtype TRL loads them in (float32 unless dtype / model_init_kwargs say otherwise), or
 * in `dtype` (a reference's ref_model_dtype).
 */
export async function loadTrainingModel(
  config: Pick<LoopConfig, 'use_cpu'> & ModelInitConfig,
  dir: string,
  dtype: Dtype = trainingDtype(config),
  head: ModelHead = 'lm',
): Promise<Model> {
  const accelerator = info().device === 'cpu' ? 'cpu' : `cuda:${distributedEnv()?.localRank ?? 0}`;
  const model = await loadModel(dir, {
    device: config.use_cpu ? 'cpu' : (accelerator as Device),
    dtype,
  });
  if (head === 'lm' && model.config.numLabels > 0) {
    await model.dispose();
    throw configError(`${dir} is a sequence-classification (reward) model; training needs a causal LM (*ForCausalLM)`);
  }
  // RewardTrainer: "reward models require num_labels=1 to output a single scalar reward per sequence".
  if (head === 'score' && model.config.numLabels !== 1) {
    await model.dispose();
    throw configError(
      `${dir} has num_labels=${model.config.numLabels}, but a reward model needs a *ForSequenceClassification model with num_labels=1`,
    );
  }
  if (model.config.dtype === 'float16') {
    await model.dispose();
    refuseFloat16();
  }
  return model;
}

/**
 * The policy: model_name_or_path, a PEFT adapter folder on its base model, or (resuming) the checkpoint's weights or
 * adapter; use_peft gives a model folder fresh LoRA adapters (peft.ts).
 */
async function loadPolicy(config: LoopConfig, resumeDir: string | null, head: ModelHead): Promise<Model> {
  const from = resumeDir ?? config.model_name_or_path!;
  const base = adapterBase(from);
  if (base && config.use_peft && !resumeDir) {
    throw configError(
      `use_peft: model_name_or_path ${from} is already a PEFT adapter (train it without use_peft, or merge it first with alignkit merge)`,
    );
  }
  const policy = await loadTrainingModel(config, base ?? from, undefined, head);
  // dtype auto: the checkpoint's dtype is known once loaded.
  const { dtype } = policy.config;
  if ((base || config.use_peft) && dtype !== 'float32') {
    await policy.dispose();
    refuseLoraDtype(dtype);
  }
  if (base) await policy.loadAdapter(from);
  else if (config.use_peft && !resumeDir) await policy.addLora(loraOptions(config, policy.config.modelType));
  // DPOConfig's disable_dropout: TRL zeroes every dropout of the wrapped model, LoRA's included.
  if ('disable_dropout' in config && config.disable_dropout) await policy.disableDropout();
  return policy;
}

/**
 * The policy (from the checkpoint when resuming), its optimizer and the checkpoint's trainer state; under data
 * parallelism the policy takes rank 0's weights and averages its gradients over the ranks (DDP).
 */
export async function setupPolicy(config: LoopConfig, dataParallel = DataParallel.single, head: ModelHead = 'lm') {
  const resumeDir = await checkpointToResume(config.resume_from_checkpoint, config.output_dir!);
  const policy = await loadPolicy(config, resumeDir, head);
  // The Trainer's set_seed(seed), after the model is wrapped: the draws of LoRA dropout repeat from run to run.
  manualSeed(config.seed);
  await dataParallel.attach(policy, config);
  // zero_stage 1 and 2: each rank keeps the AdamW state of its share of the parameters (2: and only their gradients).
  const optimizer = await createOptimizer(policy, config, {
    group: dataParallel,
    zeroStage: config.zero_stage,
    bucketCapMb: config.ddp_bucket_cap_mb ?? undefined,
  });
  const resumed = resumeDir ? await loadCheckpoint(resumeDir, optimizer, dataParallel) : null;
  return { resumeDir, policy, optimizer, resumed };
}
