// evaluate(): measures a saved model, as `alignkit eval` does. On preference rows: TRL's eval rewards, accuracies
// and log-probs against a reference, plus reference-free preference accuracy and perplexity (preference-eval.ts).
// On prompts: the model's (and the reference's) generations in generations.jsonl, and the model's win rate over the
// reference by a judge function or a reward model (generation-eval.ts). Results go to output_dir/eval_results.json.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { info } from '../info.js';
import { loadModel, type Model } from '../model.js';
import type { Device } from '../types/model.js';
import { resolveEvalModelPaths } from '../hub/resolve-models.js';
import { adapterBase } from '../train/peft.js';
import { Tokenizer } from '../tokenizer/index.js';
import type { EvalConfig as EvalConfigInput } from '../types/config-types.js';
import { loadEvalConfig, resolveEvalConfig, type EvalConfig } from './eval-config.js';
import { evaluateGenerations, type Judge } from './generation-eval.js';
import { evaluatePreferences } from './preference-eval.js';

export type { Judge } from './generation-eval.js';

export interface EvaluateOptions {
  /** Scores the model's completion (a) against the reference's (b); overrides the config's `judge` module. */
  judge?: Judge;
  /** Progress notes. Default: stderr. */
  log?: (message: string) => void;
}

export interface EvalResult {
  /** What eval_results.json holds: `eval_`-prefixed figures, as the HF Trainer names evaluation metrics. */
  metrics: Record<string, number>;
  resultsPath: string;
  /** output_dir/generations.jsonl, when the config has a prompt_dataset. */
  generationsPath?: string;
}

/** A model folder, or a PEFT adapter folder (a LoRA training's output) on its base model. */
async function load(config: EvalConfig, dir: string): Promise<Model> {
  const base = adapterBase(dir);
  const model = await loadModel(base ?? dir, {
    device: config.use_cpu ? 'cpu' : (info().device as Device),
    dtype: 'float32',
  });
  if (base) await model.loadAdapter(dir);
  return model;
}

/** Evaluates as an eval config (its keys typed from evalSchema) or a YAML/JSON file's path says; checked before any work. */
export async function evaluate(
  configOrPath: EvalConfigInput | string,
  options: EvaluateOptions = {},
): Promise<EvalResult> {
  const log = options.log ?? ((message: string) => console.error(message));
  // Hub model ids (model, ref_model, reward_model) → snapshot folders in the HF cache, fetched if missing.
  const loaded =
    typeof configOrPath === 'string' ? await loadEvalConfig(configOrPath) : resolveEvalConfig(configOrPath);
  const config = await resolveEvalModelPaths(loaded, log);
  const outputDir = config.output_dir ?? config.model_name_or_path!;
  const tokenizer = await Tokenizer.load(config.model_name_or_path!, {
    chatTemplate: config.chat_template ?? undefined,
  });
  const model = await load(config, config.model_name_or_path!);
  const reference = config.ref_model ? await load(config, config.ref_model) : null;
  const rewardModel = config.reward_model
    ? { model: await load(config, config.reward_model), tokenizer: await Tokenizer.load(config.reward_model) }
    : undefined;
  try {
    await mkdir(outputDir, { recursive: true });
    let metrics: Record<string, number> = {};
    if (config.eval_dataset) {
      log(`eval: preference pairs of ${config.eval_dataset}`);
      metrics = await evaluatePreferences({ ...config, output_dir: outputDir }, tokenizer, model, reference, log);
    }
    let generationsPath: string | undefined;
    if (config.prompt_dataset) {
      log(`eval: generating for the prompts of ${config.prompt_dataset}`);
      generationsPath = join(outputDir, 'generations.jsonl');
      const judged = await evaluateGenerations(config, {
        tokenizer,
        model,
        reference,
        judge: options.judge,
        rewardModel,
        generationsPath,
        log,
      });
      metrics = { ...metrics, ...judged };
    }
    const resultsPath = join(outputDir, 'eval_results.json');
    await writeFile(resultsPath, JSON.stringify(metrics, null, 2) + '\n');
    return { metrics, resultsPath, generationsPath };
  } finally {
    await model.dispose();
    await reference?.dispose();
    await rewardModel?.model.dispose();
  }
}
