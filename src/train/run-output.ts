// A training run's claim on output_dir, before any work: not a folder the run reads a model from (the final save
// would overwrite it), a folder this process can create and write, and held by this run alone (io/run-lock.ts).
// Data-parallel ranks share output_dir: rank 0 creates and locks it, as it alone writes checkpoints and the model.
import type { TrainConfig } from '../config/load-config.js';
import { refuseLinksOutside } from '../io/model-file.js';
import { ensureWritableFolder, refuseOutputOverInputs, type InputFolder } from '../io/output-folder.js';
import { lockOutputDir } from '../io/run-lock.js';
import { adapterBase } from './peft.js';

/** The config keys that name a model folder a run reads (those a trainer does not have are absent). */
const MODEL_KEYS = [
  'model_name_or_path',
  'ref_model',
  'ref_model_name_or_path',
  'reward_model_path',
  'reward_model',
  'resume_from_checkpoint',
];

/** The model folders `config` reads: its model keys, and the base model of a PEFT adapter folder among them. */
export function inputFolders(config: TrainConfig): InputFolder[] {
  const inputs: InputFolder[] = [];
  for (const key of MODEL_KEYS) {
    const path = (config as Record<string, unknown>)[key];
    if (typeof path !== 'string' || !path) continue;
    inputs.push({ key, path });
    let base: string | null = null;
    try {
      base = adapterBase(path);
    } catch {
      // a malformed adapter_config.json: loading the model reports it
    }
    if (base) inputs.push({ key: `the base model of ${key}`, path: base });
  }
  return inputs;
}

/**
 * output_dir is not (inside) a model folder the run reads, and those folders link to nothing outside them. Made
 * again once hub ids are resolved to their cache folders.
 */
export function checkInputFolders(config: TrainConfig): void {
  const inputs = inputFolders(config);
  if (config.output_dir) refuseOutputOverInputs({ key: 'output_dir', path: config.output_dir }, inputs);
  for (const input of inputs) refuseLinksOutside(input.path, input.key);
}

/**
 * Checks output_dir against the run's inputs, creates it and takes its lock (rank 0); returns the release, which
 * train() calls on every way out. Without an output_dir the recipe reports it.
 */
export function claimOutputDir(config: TrainConfig, note: (message: string) => void, rank: number): () => void {
  const outputDir = config.output_dir;
  if (!outputDir) return () => {};
  checkInputFolders(config);
  if (rank !== 0) return () => {};
  ensureWritableFolder('output_dir', outputDir);
  return lockOutputDir(outputDir, note);
}
