// Training checkpoints as transformers' Trainer lays them out: output_dir/checkpoint-N/ holding the model (HF
// folder), optimizer.safetensors and trainer_state.json. Written to a hidden temp folder and renamed into place,
// so a kill mid-write never leaves a half checkpoint; save_total_limit keeps the newest N.
// With sync_ref_model (TR-DPO) the reference has moved too, and checkpoint-N/ref_model/ holds it (an HF folder):
// transformers saves no reference model, so a resumed TRL run restarts from the initial one; ours resumes exactly.
// Under data parallelism rank 0 writes the checkpoint and every rank adds its random generators' state
// (rng_state_<rank>.safetensors, as the Trainer's rng_state_<rank>.pth) into it; the ranks share output_dir.
// save_only_model: the model and trainer_state.json only, as transformers saves them; such a checkpoint cannot be
// resumed from (transformers documents that it prevents resuming) and checkpointToResume refuses it.
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DataParallel } from '../distributed/data-parallel.js';
import { AlignkitError, fromNative } from '../errors.js';
import { native } from '../native.js';
import type { Model } from '../model.js';
import type { MetricSchedulerState } from './metric-lr-schedulers.js';
import type { Optimizer } from './optimizer.js';
import { savePolicy } from './peft.js';

/** Everything besides weights and optimizer moments that the loop needs to continue exactly. */
export interface TrainerState {
  global_step: number;
  /** HF's fractional epoch at global_step. */
  epoch: number;
  max_steps: number;
  /**
   * The data position: the next optimizer step reads epoch `epoch_index`, update `update_in_epoch`. After an epoch's
   * last step, update_in_epoch equals its number of updates until the epoch's end (log/evaluate/save) has run.
   */
  epoch_index: number;
  update_in_epoch: number;
  /** The shuffle seed (data_seed ?? seed); each epoch's order is a function of it and the epoch. */
  seed: number;
  /** TRL's running `num_tokens` (attention-mask tokens seen in training). */
  total_tokens: number;
  /** The open logging window: loss summed over its steps, and TRL's per-micro-batch metrics. */
  window: { loss: number; steps: number; metrics: Record<string, number[]> };
  /** The latest optimizer step's pre-clipping norm (null without clipping) and learning rate, which a log reports. */
  grad_norm: number | null;
  learning_rate: number;
  /**
   * TRL's DPOTrainer.log reads the metrics of the model's mode: 'eval' from an evaluation until the next training
   * step, when a training log carries no metrics and leaves the window's for a later one.
   */
  mode: 'train' | 'eval';
  /** Every step's loss summed (the summary's train_loss is its mean) and HF's floating-point-operation count. */
  total_loss: number;
  total_flos: number;
  log_history: Record<string, number>[];
  /** reduce_lr_on_plateau's / greedy's state (their rate moves with the eval metric); absent for the other schedulers. */
  lr_scheduler?: MetricSchedulerState | null;
}

const OPTIMIZER_FILE = 'optimizer.safetensors';
const STATE_FILE = 'trainer_state.json';
const REF_MODEL_DIR = 'ref_model';

export interface CheckpointExtras {
  saveTotalLimit: number | null;
  /** TrainingArguments' save_only_model: no optimizer state, RNG state or synced reference. */
  saveOnlyModel?: boolean;
  /** A second model the checkpoint holds in ref_model/ (sync_ref_model's reference). */
  reference?: Model;
  /** Writes more files into the model folder before it is renamed into place (the tokenizer's settings). */
  writeFiles?: (dir: string) => Promise<void>;
  /** Every rank calls saveCheckpoint; rank 0 writes all but the other ranks' RNG states. */
  dataParallel?: DataParallel;
}

/** The Trainer's rng_state.pth, or rng_state_<rank>.pth with several processes. */
const rngStateFile = (dp: DataParallel) =>
  dp.worldSize > 1 ? `rng_state_${dp.rank}.safetensors` : 'rng_state.safetensors';

export async function saveCheckpoint(
  outputDir: string,
  model: Model,
  optimizer: Optimizer,
  state: TrainerState,
  {
    saveTotalLimit,
    saveOnlyModel = false,
    reference,
    writeFiles,
    dataParallel: dp = DataParallel.single,
  }: CheckpointExtras,
): Promise<string> {
  const final = join(outputDir, `checkpoint-${state.global_step}`);
  const temp = join(outputDir, `.checkpoint-${state.global_step}.tmp`);
  if (dp.isMain) {
    await rm(temp, { recursive: true, force: true });
    await mkdir(temp, { recursive: true });
  }
  await dp.barrier();
  if (!saveOnlyModel) {
    await native()
      .saveRngState(join(temp, rngStateFile(dp)))
      .catch(fromNative);
    // Sharded (zero_stage 1 or 2), every rank sends its part of the optimizer state to rank 0, which writes the whole.
    await optimizer.save(dp.isMain ? join(temp, OPTIMIZER_FILE) : null);
    await dp.barrier();
  }
  // zero_stage 3: every rank sends its shards; rank 0 keeps the whole parameters for the save.
  await optimizer.gatherParameters(dp.isMain);
  if (!dp.isMain) return final;
  await savePolicy(model, temp);
  await writeFiles?.(temp);
  if (reference && !saveOnlyModel) await reference.save(join(temp, REF_MODEL_DIR));
  await writeFile(join(temp, STATE_FILE), JSON.stringify(state, null, 1) + '\n');
  await rm(final, { recursive: true, force: true });
  await rename(temp, final);
  if (saveTotalLimit !== null) {
    const steps = await checkpointSteps(outputDir);
    for (const step of steps.slice(0, Math.max(0, steps.length - saveTotalLimit))) {
      await rm(join(outputDir, `checkpoint-${step}`), { recursive: true, force: true });
    }
  }
  return final;
}

/** The N of each output_dir/checkpoint-N folder, ascending. */
async function checkpointSteps(outputDir: string): Promise<number[]> {
  const entries = existsSync(outputDir) ? await readdir(outputDir, { withFileTypes: true }) : [];
  return entries
    .filter((e) => e.isDirectory())
    .map((e) => /^checkpoint-(\d+)$/.exec(e.name)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

/** HF's get_last_checkpoint: output_dir/checkpoint-N with the largest N, or undefined if there is none. */
export async function latestCheckpoint(outputDir: string): Promise<string | undefined> {
  const steps = await checkpointSteps(outputDir);
  return steps.length ? join(outputDir, `checkpoint-${steps.at(-1)}`) : undefined;
}

/** resume_from_checkpoint as transformers' Trainer.train takes it: a folder, true for the latest, false/null for none. */
export async function checkpointToResume(value: string | boolean | null, outputDir: string): Promise<string | null> {
  if (value !== true) return value ? resumable(value) : null;
  const latest = await latestCheckpoint(outputDir);
  if (!latest) {
    throw new AlignkitError(
      'ERR_NOT_FOUND',
      `resume_from_checkpoint: true, but output_dir ${outputDir} holds no checkpoint-N folder to resume from`,
    );
  }
  return resumable(latest);
}

/** A save_only_model checkpoint (trainer state, no optimizer state) is refused before anything loads. */
function resumable(dir: string): string {
  if (existsSync(join(dir, STATE_FILE)) && !existsSync(join(dir, OPTIMIZER_FILE))) {
    throw new AlignkitError(
      'ERR_INVALID_CONFIG',
      `resume_from_checkpoint: ${dir} holds the model only (saved with save_only_model: ` +
        `no ${OPTIMIZER_FILE} or RNG state), so training cannot continue from it exactly; start a new run from its weights ` +
        `(model_name_or_path: ${dir}) or resume from a checkpoint saved without save_only_model`,
    );
  }
  return dir;
}

/**
 * Reads a checkpoint's trainer_state.json, loads its optimizer state into `optimizer` and restores this rank's RNG
 * state. A checkpoint from another world size has no RNG state for some ranks: as the Trainer, they go on unrestored.
 */
export async function loadCheckpoint(
  dir: string,
  optimizer: Optimizer,
  dp = DataParallel.single,
): Promise<TrainerState> {
  const statePath = join(dir, STATE_FILE);
  if (!existsSync(statePath)) {
    throw new AlignkitError(
      'ERR_NOT_FOUND',
      `resume_from_checkpoint: ${dir} has no ${STATE_FILE} (not an alignkit checkpoint)`,
    );
  }
  await optimizer.load(join(dir, OPTIMIZER_FILE));
  const rngPath = join(dir, rngStateFile(dp));
  if (existsSync(rngPath)) await native().loadRngState(rngPath).catch(fromNative);
  return JSON.parse(await readFile(statePath, 'utf8')) as TrainerState;
}

/** The synced reference a sync_ref_model checkpoint holds (an HF folder to load). */
export function syncedReferenceDir(dir: string): string {
  const refDir = join(dir, REF_MODEL_DIR);
  if (!existsSync(join(refDir, 'config.json'))) {
    throw new AlignkitError(
      'ERR_NOT_FOUND',
      `resume_from_checkpoint: ${dir} has no ${REF_MODEL_DIR}/ (sync_ref_model resumes ` +
        'from the synced reference weights a sync_ref_model run saves there)',
    );
  }
  return refDir;
}
