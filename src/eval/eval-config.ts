// The `alignkit eval` config: which model, against which reference, on which data, and how to generate. Keys
// keep TRL's and transformers' names where they have one (beta, max_length, per_device_eval_batch_size,
// max_new_tokens, do_sample, temperature, top_k, top_p); defaults are theirs (DPOConfig, the model's GenerationConfig).
import { applySchema, configMapping, readConfigFile } from '../config/load-config.js';
import { bool, int, num, obj, oneOf, orNull, str, type ConfigOf } from '../config/schema.js';
import { TRUNCATION_MODES } from '../config/trainer-fields.js';
import { AlignkitError } from '../errors.js';

export const evalSchema = {
  /** The model to evaluate: any Hugging Face folder alignkit or transformers wrote. */
  model_name_or_path: str(null),
  /** The reference model (e.g. the SFT model DPO started from): implicit rewards and the win rate are against it. */
  ref_model: str(null),
  /** Where eval_results.json and generations.jsonl go; default: the model's folder (as the HF Trainer does). */
  output_dir: str(null),
  /** Preference rows (the formats `trainer: dpo` reads): rewards, accuracies, log-probs, perplexity. */
  eval_dataset: str(null),
  /** Prompt rows (`prompt`: text or messages): generations, and a win rate when a judge or reward model is given. */
  prompt_dataset: str(null),
  /** A JS module whose default export is `judge(prompt, a, b, row) → 1 (a wins) | 0 (b wins) | 0.5 (tie)`. */
  judge: str(null),
  /** A sequence-classification reward model folder: the completion with the higher score wins. */
  reward_model: str(null),
  beta: num(0.1),
  max_length: orNull(int(1024, 1)),
  truncation_mode: oneOf(TRUNCATION_MODES, 'keep_start'),
  pad_token: str(null),
  chat_template: str(null),
  dataset_columns: obj(null),
  skip_invalid_rows: bool(false),
  per_device_eval_batch_size: int(8, 1),
  // Generation: null takes the model folder's generation_config.json, as transformers' generate() does.
  max_new_tokens: int(null, 1),
  do_sample: bool(null),
  temperature: num(null, { min: 0 }),
  top_k: int(null, 0),
  top_p: num(null, { min: 0, max: 1 }),
  seed: int(42),
  bf16: bool(false),
  use_cpu: bool(false),
};

export type EvalConfig = ConfigOf<typeof evalSchema>;

/** Validates an eval config object and fills in the defaults. */
export function resolveEvalConfig(raw: unknown, where = 'eval config'): EvalConfig {
  const config = applySchema(configMapping(raw, where), evalSchema, where, 'alignkit eval') as EvalConfig;
  const missing = (what: string) => new AlignkitError('ERR_INVALID_CONFIG', `${where}: ${what}`);
  if (!config.model_name_or_path) throw missing("'model_name_or_path' is required");
  if (!config.eval_dataset && !config.prompt_dataset)
    throw missing("give 'eval_dataset' (preference rows), 'prompt_dataset' (prompts), or both");
  if ((config.judge || config.reward_model) && !config.prompt_dataset)
    throw missing("'judge' and 'reward_model' score generations: they need 'prompt_dataset'");
  if ((config.judge || config.reward_model) && !config.ref_model)
    throw missing("a win rate compares the model with 'ref_model': set it");
  if (config.judge && config.reward_model) throw missing("give 'judge' or 'reward_model', not both");
  return config;
}

/** Reads and validates a YAML or JSON eval config file. */
export async function loadEvalConfig(path: string): Promise<EvalConfig> {
  return resolveEvalConfig(await readConfigFile(path), path);
}
