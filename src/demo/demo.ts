// `alignkit demo`: the whole pipeline on the bundled tiny Llama and synthetic data (scripts/demo/make_demo.py),
// on the CPU in a few minutes — SFT on answers in a random case, DPO on pairs that prefer the case the prompt
// asks for, then evaluation of both models on held-out prompts and pairs, and the report. The configs it runs
// are written beside the results, so every stage can be rerun with `alignkit train|eval <file>`.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { evaluate, type EvalResult } from '../eval/evaluate.js';
import { packageRoot } from '../native.js';
import { report, type ReportResult } from '../report/report.js';
import { train, type TrainOptions } from '../train/train-from-config.js';
import type { DpoConfig, EvalConfig, SftConfig } from '../types/config-types.js';
import { caseJudge, followsInstruction } from './case-judge.js';

const demoFolder = join(packageRoot, 'test', 'fixtures', 'demo');
const demoData = (name: string) => join(demoFolder, 'data', name);

/**
 * The bundled demo's model and data (scripts/demo/make_demo.py), as paths inside the installed package: a
 * 0.2M-parameter Llama and synthetic rows whose prompts ask for an answer in capitals or in small letters.
 */
export const demoAssets = {
  /** The tiny Llama's Hugging Face folder: config.json, model.safetensors, tokenizer, chat template. */
  model: join(demoFolder, 'model'),
  /** SFT rows (conversational prompt, completion), the completion's case picked at random. */
  sft: demoData('sft.jsonl'),
  /** DPO pairs (prompt, chosen, rejected): the completion in the case the prompt asks for is chosen. */
  preferencesTrain: demoData('preferences_train.jsonl'),
  /** Held-out pairs of the same kind, for eval_dataset. */
  preferencesEval: demoData('preferences_eval.jsonl'),
  /** Held-out prompts, with the `case` each asks for, for evaluate()'s prompt_dataset. */
  prompts: demoData('prompts.jsonl'),
} as const;

/** The stages' configs, writing into `dir`, the demo's output folder. */
function demoConfigs(dir: string) {
  // A 0.2M-parameter model: no memory to save, fp32 on the CPU is fastest; only the final models are kept.
  const common = {
    max_length: 128,
    gradient_checkpointing: false,
    bf16: false,
    use_cpu: true,
    save_strategy: 'no',
    disable_tqdm: true,
  } satisfies Omit<SftConfig, 'trainer'> & Omit<DpoConfig, 'trainer'>;
  return {
    sft: {
      trainer: 'sft',
      model_name_or_path: demoAssets.model,
      train_dataset: demoAssets.sft,
      output_dir: join(dir, 'sft'),
      learning_rate: 3e-3,
      lr_scheduler_type: 'cosine',
      warmup_steps: 0.1,
      per_device_train_batch_size: 32,
      num_train_epochs: 8,
      logging_steps: 27,
      ...common,
    } satisfies SftConfig,
    dpo: {
      trainer: 'dpo',
      model_name_or_path: join(dir, 'sft'),
      train_dataset: demoAssets.preferencesTrain,
      eval_dataset: demoAssets.preferencesEval,
      output_dir: join(dir, 'dpo'),
      beta: 0.1,
      learning_rate: 1e-3,
      // DPO plus an NLL term on the chosen answers (RPO, TRL's loss list): plain sigmoid DPO lowers the chosen
      // answers' likelihood too on a model this small, and its answers in small letters degenerate.
      loss_type: ['sigmoid', 'sft'],
      loss_weights: [1.0, 0.3],
      lr_scheduler_type: 'cosine',
      warmup_steps: 0.1,
      per_device_train_batch_size: 16,
      num_train_epochs: 6,
      precompute_ref_log_probs: true,
      logging_steps: 8,
      eval_strategy: 'steps',
      eval_steps: 24,
      eval_on_start: true,
      ...common,
    } satisfies DpoConfig,
    eval: {
      model_name_or_path: join(dir, 'dpo'),
      ref_model: join(dir, 'sft'),
      eval_dataset: demoAssets.preferencesEval,
      prompt_dataset: demoAssets.prompts,
      output_dir: join(dir, 'dpo'),
      max_new_tokens: 24,
      per_device_eval_batch_size: 16,
      use_cpu: true,
      judge: join(packageRoot, 'dist', 'demo', 'case-judge.js'), // for `alignkit eval eval.yaml`
    } satisfies EvalConfig,
  };
}

export interface DemoOptions extends Pick<TrainOptions, 'onStep' | 'onLog' | 'log'> {
  /** Where the models, configs, metrics and report go. Default: ./alignkit-demo */
  outputDir?: string;
  /** Called as each stage starts, with the config it runs (the report: the run folder it reads). */
  onStage?: (stage: 'sft' | 'dpo' | 'eval' | 'report', path: string) => void;
}

export interface DemoResult {
  outputDir: string;
  eval: EvalResult;
  /** The DPO run's report (its metrics and the evaluation). */
  report: ReportResult;
  /** Before = the SFT model, after = the DPO model, on held-out data. */
  preferenceAccuracy: { before: number; after: number };
  followsInstruction: { before: number; after: number };
  winRate: number;
}

async function followRates(generationsPath: string, promptsPath: string) {
  const rows = (await readFile(promptsPath, 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const generations = (await readFile(generationsPath, 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { model: string; reference: string });
  const rate = (pick: (g: { model: string; reference: string }) => string) =>
    generations.filter((g, i) => followsInstruction(pick(g), rows[i]!)).length / generations.length;
  return { before: rate((g) => g.reference), after: rate((g) => g.model) };
}

export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const dir = resolve(options.outputDir ?? 'alignkit-demo');
  await mkdir(dir, { recursive: true });
  const configs = demoConfigs(dir);
  const written: Record<string, string> = {};
  for (const [name, config] of Object.entries(configs)) {
    written[name] = join(dir, `${name}.yaml`);
    await writeFile(written[name]!, stringify(config));
  }
  const trainOptions = { onStep: options.onStep, onLog: options.onLog, log: options.log };
  options.onStage?.('sft', written.sft!);
  await train(configs.sft, trainOptions);
  options.onStage?.('dpo', written.dpo!);
  await train(configs.dpo, trainOptions);
  options.onStage?.('eval', written.eval!);
  const result = await evaluate(configs.eval, { judge: caseJudge, log: options.log });
  const m = result.metrics;
  options.onStage?.('report', configs.dpo.output_dir);
  return {
    outputDir: dir,
    eval: result,
    report: await report(configs.dpo.output_dir),
    preferenceAccuracy: { before: m.eval_ref_preference_accuracy!, after: m.eval_preference_accuracy! },
    followsInstruction: await followRates(result.generationsPath!, configs.eval.prompt_dataset),
    winRate: m.eval_win_rate!,
  };
}
