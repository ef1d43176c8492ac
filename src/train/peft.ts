// LoRA in the recipes, as TRL 1.13 runs a trainer with `peft_config` (ModelConfig's use_peft, lora_r, lora_alpha,
// lora_dropout, lora_target_modules, use_rslora): the policy gets fresh adapters, or continues a PEFT adapter
// folder given as model_name_or_path; checkpoints and the final output hold the adapter as PEFT saves it.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import type { Model } from '../model.js';
import type { AddLoraOptions } from '../types/model.js';
import { AlignkitError } from '../errors.js';
import { parseModelJson } from '../io/model-file.js';
import { cachedRepoFolder, isRepoId } from '../hub/resolve.js';

/** The ModelConfig fields LoRA reads, under TRL's names. */
export interface PeftFields {
  use_peft: boolean;
  lora_r: number;
  lora_alpha: number;
  lora_dropout: number;
  lora_target_modules: string[] | null;
  use_rslora: boolean;
  seed: number;
}

/** PEFT's default targets for the Llama family (TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING). */
const DEFAULT_TARGETS = ['q_proj', 'v_proj'];

/** The base model of a PEFT adapter folder (its base_model_name_or_path, relative to the folder), or null for a model folder. */
export function adapterBase(dir: string): string | null {
  const path = join(dir, 'adapter_config.json');
  if (!existsSync(path)) return null;
  if (!statSync(path).isFile()) throw new AlignkitError('ERR_INVALID_MODEL', `${path}: not a regular file`);
  const config = parseModelJson(readFileSync(path, 'utf8'), path);
  const adapter = (typeof config === 'object' && config !== null ? config : {}) as {
    base_model_name_or_path?: unknown;
    revision?: unknown;
  };
  const base = adapter.base_model_name_or_path;
  if (typeof base !== 'string' || !base) {
    throw new AlignkitError('ERR_INVALID_CONFIG', `${path}: base_model_name_or_path must name the base model folder`);
  }
  if (isAbsolute(base)) return base;
  // PEFT writes the hub id of a base loaded from the hub: the cached snapshot (resolveInputs downloaded it).
  if (!existsSync(resolve(dir, base)) && isRepoId(base)) {
    return cachedRepoFolder({
      id: base,
      repoType: 'model',
      revision: typeof adapter.revision === 'string' ? adapter.revision : null,
    });
  }
  return resolve(dir, base);
}

/**
 * Fresh adapters as the trainer's get_peft_model makes them, drawn after `torch.manual_seed(seed)` (TRL wraps the
 * model before the Trainer seeds anything, so a seed of our own makes runs repeatable).
 */
export function loraOptions(config: PeftFields): AddLoraOptions {
  return {
    r: config.lora_r,
    lora_alpha: config.lora_alpha,
    lora_dropout: config.lora_dropout,
    target_modules: config.lora_target_modules ?? DEFAULT_TARGETS,
    use_rslora: config.use_rslora,
    seed: config.seed,
  };
}

/** A checkpoint or the final output: the adapter alone for a LoRA policy (as TRL saves a PeftModel), else the model. */
export async function savePolicy(model: Model, dir: string): Promise<void> {
  if (model.config.lora) await model.saveAdapter(dir);
  else await model.save(dir);
}
