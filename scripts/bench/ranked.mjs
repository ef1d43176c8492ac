#!/usr/bin/env node
// Ranked preferences: what each way of training on four graded answers per prompt buys, at equal optimizer steps.
//
//   npm run bench:ranked -- [--steps N] [--every E] [--batch B] [--seeds S] [--keep]
//
// The task is the demo's (test/fixtures/demo: a 0.2M-parameter Llama; prompts ask for an answer in capitals or in
// small letters). Each demo preference pair becomes four graded answers: the requested case throughout (score 3),
// the first two thirds of the words in it (2), the first third (1), none (0, the demo's rejected answer). Five
// methods train from the demo model for the same steps and batch size (pairs for DPO, prompts for listwise):
//
//   best_vs_worst   DPO (sigmoid) on score 3 vs score 0, one pair per prompt
//   best_vs_random  DPO on score 3 vs a seeded random lower answer (UltraFeedback's binarization)
//   all_pairs       DPO on all six ordered pairs of each prompt
//   all_pairs_gap   the same, each pair's loss weighted by its score gap (ranked_pair_weighting: score_gap)
//   listwise        the Plackett–Luce loss over the four answers of each prompt
//
// Every E steps (a checkpoint) the model is scored on the held-out prompts (the demo's eval pairs, graded the same way) against
// the demo model as reference: preference accuracy = the share of answer pairs with different scores whose
// implicit rewards (policy − reference log-probs) keep their order; best-vs-worst accuracy = the same for the
// score 3 / score 0 pair only. Prints figures only (docs/ranked-preferences.md has a run); never asserts.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureDist, root } from './setup.mjs';

const { values: opts } = parseArgs({
  options: {
    steps: { type: 'string', default: '40' },
    every: { type: 'string', default: '5' },
    batch: { type: 'string', default: '16' },
    seeds: { type: 'string', default: '2' },
    keep: { type: 'boolean', default: false },
  },
});
ensureDist();
const dist = (path) => import(join(root, 'dist', path));
const { train } = await dist('train/train-from-config.js');
const { loadModel } = await dist('model.js');
const { preprocessRanked } = await dist('data/ranked/preprocess-ranked.js');
const { RankedBatches } = await dist('data/ranked/ranked-batches.js');
const { readArrowFile } = await dist('data/token-table.js');

const DEMO = join(root, 'test', 'fixtures', 'demo');
const MODEL = join(DEMO, 'model');
/** Each method's name and its keys. */
const METHODS = {
  best_vs_worst: { ranked_pairing: 'best_vs_worst' },
  best_vs_random: { ranked_pairing: 'best_vs_random' },
  all_pairs: { ranked_pairing: 'all_pairs' },
  all_pairs_gap: { ranked_pairing: 'all_pairs', ranked_pair_weighting: 'score_gap' },
  listwise: { ranked_pairing: 'listwise' },
};

/** The answer with its first `share` of words in the requested case (the chosen answer) and the rest not. */
function graded(chosen, rejected, share) {
  const [good, bad] = [chosen.split(' '), rejected.split(' ')];
  const keep = Math.round(good.length * share);
  return [...good.slice(0, keep), ...bad.slice(keep)].join(' ');
}

function rankedRows(file) {
  return readFileSync(join(DEMO, 'data', file), 'utf8')
    .trim()
    .split('\n')
    .map((line) => {
      const { prompt, chosen, rejected } = JSON.parse(line);
      const [c, r] = [chosen[0].content, rejected[0].content];
      const answers = [1, 2 / 3, 1 / 3, 0].map((share) => [{ role: 'assistant', content: graded(c, r, share) }]);
      // Shuffled into a fixed rotation so the best answer is not always listed first.
      const turn = prompt[0].content.length % 4;
      const order = [0, 1, 2, 3].map((k) => (k + turn) % 4);
      return { prompt, completions: order.map((k) => answers[k]), scores: order.map((k) => 3 - k) };
    });
}

const work = mkdtempSync(join(tmpdir(), 'alignkit-bench-ranked-'));
const write = (name, rows) => {
  const path = join(work, name);
  writeFileSync(path, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return path;
};
const trainData = write('train.jsonl', rankedRows('preferences_train.jsonl'));
const evalData = write('eval.jsonl', rankedRows('preferences_eval.jsonl'));

/** Held-out accuracies of `modelDir` against the demo model, over every answer of every held-out prompt. */
async function heldOut(modelDir) {
  const config = {
    model_name_or_path: MODEL,
    eval_dataset: evalData,
    output_dir: join(work, 'eval-data'),
    max_length: 128,
    truncation_mode: 'keep_start',
    max_prompt_length: null,
    max_completion_length: null,
    chat_template: null,
    dataset_columns: null,
    skip_invalid_rows: false,
    ranked_score_field: 'overall_score',
  };
  const { path } = await preprocessRanked(config, { split: 'eval' });
  const batches = new RankedBatches(await readArrowFile(path), {
    batchSize: 32,
    seed: 0,
    shuffle: false,
    groupByLength: false,
    dropLast: false,
    padTokenId: 0,
    maxLength: 128,
    padToMultipleOf: null,
  });
  const [policy, reference] = [await loadModel(modelDir), await loadModel(MODEL)];
  let [ordered, pairs, bestWorst, prompts] = [0, 0, 0, 0];
  for (const indices of batches.order(0)) {
    const b = batches.collate(indices);
    const logps = async (m) =>
      (await m.completionLogProbs(b.inputIds, b.attentionMask, b.completionMask, { seqLen: b.seqLen })).logps;
    const [p, r] = [await logps(policy), await logps(reference)];
    let start = 0;
    for (const k of b.groupSizes) {
      const reward = (i) => p[start + i] - r[start + i];
      for (let i = 0; i < k; i++) for (let j = i + 1; j < k; j++, pairs++) ordered += reward(i) > reward(j) ? 1 : 0;
      bestWorst += reward(0) > reward(k - 1) ? 1 : 0;
      prompts++;
      start += k;
    }
  }
  await Promise.all([policy.dispose(), reference.dispose()]);
  return { preference: ordered / pairs, bestWorst: bestWorst / prompts };
}

const [steps, every] = [Number(opts.steps), Number(opts.every)];
const checkpoints = Array.from({ length: Math.floor(steps / every) }, (_, i) => (i + 1) * every);
console.log(
  `ranked preferences on the demo task: ${steps} steps of batch ${opts.batch}, scored every ${every}, ` +
    `${opts.seeds} seed(s); ${cpus().length} cores, load ${loadavg()[0].toFixed(2)}`,
);
/** results[method][step] = one { preference, bestWorst } per seed. */
const results = {};
for (let seed = 0; seed < Number(opts.seeds); seed++) {
  for (const [method, keys] of Object.entries(METHODS)) {
    const output = join(work, `${method}-${seed}`);
    const start = performance.now();
    await train(
      {
        trainer: 'dpo',
        model_name_or_path: MODEL,
        train_dataset: trainData,
        output_dir: output,
        ...keys,
        seed,
        beta: 0.1,
        learning_rate: 1e-3,
        max_steps: steps,
        per_device_train_batch_size: Number(opts.batch),
        max_length: 128,
        logging_steps: 1000,
        lr_scheduler_type: 'constant',
        bf16: false,
        gradient_checkpointing: false,
        save_strategy: 'steps',
        save_steps: every,
        save_only_model: true,
        precompute_ref_log_probs: false,
        use_cpu: true,
        disable_tqdm: true,
      },
      { log: () => {} },
    );
    const seconds = (performance.now() - start) / 1000;
    const curve = [];
    for (const step of checkpoints) {
      const acc = await heldOut(join(output, `checkpoint-${step}`));
      ((results[method] ??= {})[step] ??= []).push(acc);
      curve.push(`${step}: ${acc.preference.toFixed(3)}/${acc.bestWorst.toFixed(3)}`);
    }
    console.log(
      `  seed ${seed} ${method.padEnd(15)} ${seconds.toFixed(1)} s; step: preference/best-vs-worst  ${curve.join('  ')}`,
    );
  }
}
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const table = (what, title) => {
  console.log(`\n${title}, mean over seeds`);
  console.log(['method'.padEnd(16), ...checkpoints.map((s) => `step ${s}`.padStart(9))].join(''));
  for (const [method, byStep] of Object.entries(results))
    console.log(
      [method.padEnd(16), ...checkpoints.map((s) => mean(byStep[s].map(what)).toFixed(3).padStart(9))].join(''),
    );
};
table((r) => r.preference, 'held-out preference accuracy (every answer pair with different scores)');
table((r) => r.bestWorst, 'held-out best-vs-worst accuracy');
if (!opts.keep) rmSync(work, { recursive: true, force: true });
else console.log(`kept ${work}`);
