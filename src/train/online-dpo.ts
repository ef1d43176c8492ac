// The online / iterative DPO recipe (trainer: online_dpo): `iterations` rounds of generate → judge → DPO. Each
// round samples num_generations completions per prompt of train_dataset with the current policy, scores them
// (online-judge.ts) and pairs each prompt's best completion with its worst (ties skipped and counted), writing
// output_dir/round-N/generations.jsonl and round-N/pairs.jsonl; then DPO on the pairs (dpo.ts, which tokenizes
// them into round-N/train.arrow) saves round-N's model, the policy of the next round. The reference is
// model_name_or_path, as in TRL's OnlineDPOTrainer, or with ref_model_update: last_round the policy the round
// starts from (iterative DPO). output_dir/metrics.jsonl holds every round's entries, each with its `round` and
// the step counted across rounds; the last round's model is saved in output_dir.
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DpoConfig, OnlineDpoConfig } from '../config/load-config.js';
import { withHubTokenHidden } from '../config/report-fields.js';
import { dpoSchema } from '../config/trainer-fields.js';
import { configError } from '../errors.js';
import { importJudge, readPrompts, type PromptRow } from '../eval/generation-eval.js';
import type { Generation } from '../generate/generate.js';
import { info } from '../info.js';
import { writeModelFolder } from '../io/model-folder-write.js';
import { loadModel } from '../model.js';
import type { Device } from '../types/model.js';
import { Tokenizer } from '../tokenizer/index.js';
import { trainDpo } from './dpo.js';
import { judgeScorer, judgeSource, pairBestWorst, rewardScorer, type ScoreJudge, type Scorer } from './online-judge.js';
import { loadTrainingModel } from './policy-setup.js';
import type { LogEntry, TrainOptions, TrainProgress, TrainResult } from './train-types.js';

export interface OnlineDpoOptions extends TrainOptions {
  /** trainer: online_dpo's judge, unless the config names a rule or reward model: scores each prompt's completions. */
  judge?: ScoreJudge;
}

/** One round's DPO run: the online config's DPOConfig keys, on the round's pairs, from the round's policy. */
function roundConfig(config: OnlineDpoConfig, policyDir: string, pairsPath: string, outputDir: string): DpoConfig {
  const dpo = Object.fromEntries(Object.keys(dpoSchema).map((key) => [key, config[key as keyof OnlineDpoConfig]]));
  // dataset_columns maps the prompt rows' columns; the pairs file has the standard ones.
  return {
    ...dpo,
    trainer: 'dpo',
    model_name_or_path: policyDir,
    train_dataset: pairsPath,
    output_dir: outputDir,
    dataset_columns: null,
    // A round's pairs are new each round: precomputing stays as written (TRL's default false), never chosen for it.
    precompute_ref_log_probs: config.precompute_ref_log_probs ?? false,
  } as DpoConfig;
}

/** num_generations completions of each prompt, sampled with the round's policy: completions[i][k]. */
async function sample(
  config: OnlineDpoConfig,
  policyDir: string,
  prompts: PromptRow[],
  round: number,
  tokenizer: Tokenizer,
  signal?: AbortSignal,
) {
  const policy = await loadTrainingModel(config, policyDir);
  const out: Generation[][] = [];
  try {
    const n = config.num_generations;
    for (let start = 0; start < prompts.length; start += config.per_device_train_batch_size) {
      const batch = prompts.slice(start, start + config.per_device_train_batch_size);
      const generations = await policy.generate(
        batch.flatMap((p) => Array<typeof p.prompt>(n).fill(p.prompt)),
        {
          max_new_tokens: config.max_new_tokens,
          do_sample: true,
          temperature: config.temperature,
          top_k: config.top_k,
          top_p: config.top_p,
          seed: config.seed + (round - 1) * prompts.length + start,
          tokenizer,
          signal,
        },
      );
      batch.forEach((_, i) => out.push(generations.slice(i * n, (i + 1) * n)));
    }
  } finally {
    await policy.dispose();
  }
  return out;
}

async function scorerFor(config: OnlineDpoConfig, judge: ScoreJudge | undefined) {
  const source = judgeSource(config, judge);
  if ('judge' in source) return { scorer: judgeScorer(source.judge), dispose: async () => {} };
  if ('judgeModule' in source)
    return { scorer: judgeScorer(await importJudge<ScoreJudge>(source.judgeModule)), dispose: async () => {} };
  const dir = source.rewardModelPath;
  const model = await loadModel(dir, { device: config.use_cpu ? 'cpu' : (info().device as Device), dtype: 'float32' });
  return { scorer: rewardScorer({ model, tokenizer: await Tokenizer.load(dir) }), dispose: () => model.dispose() };
}

const mean = (values: number[]) => (values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0);

/**
 * Scores (missing_eos_penalty applied) and pairs, written to the round's generations.jsonl (every completion, its
 * finish reason and score) and pairs.jsonl (the preference rows DPO trains on); and the round's stats entry.
 */
async function judgeRound(
  config: OnlineDpoConfig,
  scorer: Scorer,
  prompts: PromptRow[],
  generations: Generation[][],
  roundDir: string,
) {
  const scores: number[][] = [];
  for (let start = 0; start < prompts.length; start += config.per_device_train_batch_size) {
    const batch = prompts.slice(start, start + config.per_device_train_batch_size);
    const texts = generations.slice(start, start + batch.length).map((g) => g.map((c) => c.text));
    scores.push(...(await scorer(batch, texts)));
  }
  if (config.missing_eos_penalty !== null) {
    generations.forEach((g, i) =>
      g.forEach((c, k) => {
        if (c.finishReason !== 'eos') scores[i]![k]! -= config.missing_eos_penalty!;
      }),
    );
  }
  await writeFile(
    join(roundDir, 'generations.jsonl'),
    generations
      .map(
        (g, i) =>
          JSON.stringify({
            prompt: prompts[i]!.prompt,
            completions: g.map((c) => c.text),
            finish_reasons: g.map((c) => c.finishReason),
            scores: scores[i],
          }) + '\n',
      )
      .join(''),
  );
  // An empty completion cannot be a side of a DPO pair (the preference rows refuse it): left out of pairing.
  const { pairs, ties } = pairBestWorst(
    scores.map((s, i) => s.map((v, k) => (generations[i]![k]!.text === '' ? Number.NaN : v))),
  );
  // A conversation's completions become assistant turns, as the preference formats expect.
  const side = (prompt: PromptRow['prompt'], text: string) =>
    typeof prompt === 'string' ? text : [{ role: 'assistant', content: text }];
  await writeFile(
    join(roundDir, 'pairs.jsonl'),
    pairs
      .map(
        ({ prompt: i, chosen, rejected }) =>
          JSON.stringify({
            prompt: prompts[i]!.prompt,
            chosen: side(prompts[i]!.prompt, generations[i]![chosen]!.text),
            rejected: side(prompts[i]!.prompt, generations[i]![rejected]!.text),
            score_chosen: scores[i]![chosen],
            score_rejected: scores[i]![rejected],
          }) + '\n',
      )
      .join(''),
  );
  return {
    pairs: pairs.length,
    stats: {
      'online/prompts': prompts.length,
      'online/pairs': pairs.length,
      'online/ties': ties,
      'online/score_mean': mean(scores.flat()),
      'online/score_chosen_mean': mean(pairs.map((p) => scores[p.prompt]![p.chosen]!)),
      'online/score_rejected_mean': mean(pairs.map((p) => scores[p.prompt]![p.rejected]!)),
      'online/completion_length': mean(generations.flat().map((c) => c.tokenIds.length)),
    },
  };
}

export async function trainOnlineDpo(config: OnlineDpoConfig, options: OnlineDpoOptions = {}): Promise<TrainResult> {
  const { judge, ...trainOptions } = options;
  const log = options.log ?? ((message: string) => console.error(message));
  if (config.resume_from_checkpoint)
    throw configError('resume_from_checkpoint is not supported by trainer: online_dpo');
  for (const key of ['model_name_or_path', 'train_dataset', 'output_dir'] as const) {
    if (!config[key])
      throw configError(`'${key}' is required${key === 'train_dataset' ? ' (prompt rows: text or messages)' : ''}`);
  }
  const outputDir = config.output_dir!;
  const { scorer, dispose } = await scorerFor(config, judge);
  const logHistory: LogEntry[] = [];
  let step = 0;
  let checkpoint: string | undefined;
  try {
    const prompts = await readPrompts(config.train_dataset!, config, log);
    if (prompts.length === 0) throw configError(`train_dataset ${config.train_dataset} holds no prompt rows`);
    const tokenizer = await Tokenizer.load(config.model_name_or_path!, {
      chatTemplate: config.chat_template ?? undefined,
    });
    await mkdir(outputDir, { recursive: true });
    await writeFile(join(outputDir, 'training_args.json'), JSON.stringify(withHubTokenHidden(config), null, 2) + '\n');
    const metricsPath = join(outputDir, 'metrics.jsonl');
    await writeFile(metricsPath, '');
    // Appends in order: the DPO rounds log through a synchronous callback.
    let written = Promise.resolve();
    const emit = (entry: LogEntry, progress: TrainProgress) => {
      logHistory.push(entry);
      written = written.then(() => appendFile(metricsPath, JSON.stringify(entry) + '\n'));
      options.onLog?.(entry, progress);
      return written;
    };

    let policyDir = config.model_name_or_path!;
    for (let round = 1; round <= config.iterations; round++) {
      if (options.signal?.aborted) return { globalStep: step, logHistory, stopped: true, checkpoint };
      const roundDir = join(outputDir, `round-${round}`);
      await mkdir(roundDir, { recursive: true });
      // Aborted while sampling: stop as between DPO steps, with the last round's checkpoint.
      const generations = await sample(config, policyDir, prompts, round, tokenizer, options.signal).catch(
        (err: unknown) => {
          if (options.signal?.aborted) return null;
          throw err;
        },
      );
      if (!generations) return { globalStep: step, logHistory, stopped: true, checkpoint };
      const judged = await judgeRound(config, scorer, prompts, generations, roundDir);
      await emit({ round, ...judged.stats, step }, { step, maxSteps: step, epoch: 0 });
      if (judged.pairs === 0) {
        log(`online_dpo round ${round}: every prompt's completions scored the same; no pairs, the policy is unchanged`);
        continue;
      }
      // Steps count on across rounds; maxSteps is the last step of this round.
      const startStep = step;
      const across = (p: TrainProgress) => ({ ...p, step: startStep + p.step, maxSteps: startStep + p.maxSteps });
      const result = await trainDpo(
        roundConfig(config, policyDir, join(roundDir, 'pairs.jsonl'), roundDir),
        {
          ...trainOptions,
          onStep: (progress) => options.onStep?.(across(progress)),
          onLog: (entry, progress) => void emit({ ...entry, round, step: startStep + entry.step! }, across(progress)),
        },
        config.ref_model_update === 'fixed' ? config.model_name_or_path! : policyDir,
      );
      await written;
      step = startStep + result.globalStep;
      checkpoint = result.checkpoint ?? checkpoint;
      if (result.stopped) return { globalStep: step, logHistory, stopped: true, checkpoint };
      policyDir = roundDir;
    }
    // The run's model in output_dir, as every trainer leaves it.
    const final = await loadTrainingModel(config, policyDir);
    await writeModelFolder(outputDir, (dir) => final.save(dir)).finally(() => final.dispose());
  } finally {
    await dispose();
  }
  return { globalStep: step, logHistory, stopped: false, checkpoint };
}
