// LoRA in the recipes, as TRL 1.13 runs a trainer with `peft_config` (ModelConfig's use_peft, lora_r, lora_alpha,
// lora_dropout, lora_target_modules, use_rslora): the policy gets fresh adapters, or continues a PEFT adapter
// folder given as model_name_or_path; checkpoints and the final output hold the adapter as PEFT saves it.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import type { Model } from '../model.js';
import type { AddLoraOptions } from '../types/model.js';
import { AlignkitError } from '../errors.js';
import { parseModelJson, readModelJson } from '../io/model-file.js';
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

/**
 * PEFT 0.21's TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING for the model types alignkit runs. Granite, OLMo 2,
 * SmolLM3, Phi-3, Qwen3-MoE and OLMoE have no entry: PEFT then raises "Please specify `target_modules`", and so do we.
 */
const DEFAULT_TARGETS: Readonly<Record<string, readonly string[]>> = {
  llama: ['q_proj', 'v_proj'],
  mistral: ['q_proj', 'v_proj'],
  qwen2: ['q_proj', 'v_proj'],
  qwen3: ['q_proj', 'v_proj'],
  gemma2: ['q_proj', 'v_proj'],
  gemma3_text: ['q_proj', 'v_proj'],
  mixtral: ['q_proj', 'v_proj'],
};

/** lora_target_modules, or PEFT's default for `modelType` when it is null. */
export function loraTargets(targets: string[] | null, modelType: string): string[] {
  if (targets) return targets;
  const fallback = DEFAULT_TARGETS[modelType];
  if (!fallback)
    throw new AlignkitError(
      'ERR_INVALID_CONFIG',
      `lora_target_modules: PEFT has no default LoRA targets for model_type ${modelType} ("Please specify \`target_modules\`"); name them, e.g. ${modelType === 'phi3' ? 'qkv_proj, o_proj, gate_up_proj, down_proj' : 'q_proj, v_proj'} or all-linear`,
    );
  return [...fallback];
}

/**
 * use_peft with lora_target_modules null on a model type PEFT has no default for, or all-linear on a Mixture-of-Experts
 * model with lora_dropout > 0, is refused before any work, from the model folder's config.json (loraOptions and the
 * native attach would refuse it only once the model is loaded). A folder that is an adapter, or whose config.json is
 * missing or unreadable, is left to the loader, which says what is wrong.
 */
export async function checkLoraTargets(
  config: Pick<PeftFields, 'use_peft' | 'lora_target_modules' | 'lora_dropout'> & {
    model_name_or_path?: string | null;
  },
): Promise<void> {
  const dir = config.model_name_or_path;
  const allLinear = config.lora_target_modules?.includes('all-linear') ?? false;
  if (!config.use_peft || (config.lora_target_modules && !allLinear) || !dir || adapterBase(dir)) return;
  const json = await readModelJson(join(dir, 'config.json')).catch(() => undefined);
  if (typeof json?.model_type !== 'string') return;
  // PEFT 0.21's all-linear adapts a MoE model's router and experts through target_parameters (lora.ParamWrapper),
  // which raises "does not work with lora_dropout != 0": dropout cannot act on the input of a weight delta.
  if (allLinear && MOE_MODEL_TYPES.includes(json.model_type) && config.lora_dropout !== 0)
    throw new AlignkitError(
      'ERR_INVALID_CONFIG',
      `lora_dropout: ${config.lora_dropout} with lora_target_modules all-linear on a Mixture-of-Experts model (${json.model_type}): PEFT 0.21 adapts its router and experts there through target_parameters (lora.ParamWrapper), which does not work with lora_dropout != 0 (dropout cannot act on the input of a weight delta); set lora_dropout: 0, or name the projections (q_proj, k_proj, v_proj, o_proj)`,
    );
  if (!config.lora_target_modules) loraTargets(null, json.model_type);
}

/** The Mixture-of-Experts model types (native/models/moe.h): PEFT's all-linear reaches their router and experts through target_parameters (native/models/expert_lora.h). */
export const MOE_MODEL_TYPES = ['mixtral', 'qwen3_moe', 'olmoe'];

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
export function loraOptions(config: PeftFields, modelType: string): AddLoraOptions {
  return {
    r: config.lora_r,
    lora_alpha: config.lora_alpha,
    lora_dropout: config.lora_dropout,
    target_modules: loraTargets(config.lora_target_modules, modelType),
    use_rslora: config.use_rslora,
    seed: config.seed,
  };
}

/** A checkpoint or the final output: the adapter alone for a LoRA policy (as TRL saves a PeftModel), else the model. */
export async function savePolicy(model: Model, dir: string): Promise<void> {
  if (model.config.lora) await model.saveAdapter(dir);
  else await model.save(dir);
}
