// trainer: online_dpo with the judges a config names: a reward model (its scores must be rewardScores' — which
// test/eval/reward-model.test.ts checks against transformers — minus missing_eos_penalty where the completion did
// not end with EOS) and judge_regex; in both, every pair is its prompt's best completion against its worst.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { demoAssets } from '../../src/demo/demo.js';
import { rewardScores } from '../../src/eval/reward-model.js';
import { loadModel } from '../../src/model.js';
import { Tokenizer } from '../../src/tokenizer/index.js';
import { train, type LogEntry } from '../../src/train/train-from-config.js';
import type { OnlineDpoConfig } from '../../src/types/config-types.js';
import { modelDir, tempDir } from '../helpers/fixtures.js';

interface Generated {
  prompt: { role: string; content: string }[];
  completions: string[];
  finish_reasons: string[];
  scores: number[];
}
const readJsonl = <T>(path: string) =>
  readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as T);
const common = {
  trainer: 'online_dpo',
  train_dataset: demoAssets.prompts,
  iterations: 1,
  num_generations: 3,
  max_new_tokens: 8,
  temperature: 1.0,
  per_device_train_batch_size: 16,
  max_steps: 1,
  gradient_checkpointing: false,
  bf16: false,
  use_cpu: true,
  save_strategy: 'no',
  disable_tqdm: true,
} satisfies OnlineDpoConfig;

/**
 * Each prompt's pair is its first best and first worst completion with text; prompts whose completions with text
 * all score the same are the ties.
 */
function expectBestVsWorst(round: string, stats: LogEntry) {
  const generated = readJsonl<Generated>(join(round, 'generations.jsonl'));
  const pairs = readJsonl<Record<string, unknown>>(join(round, 'pairs.jsonl'));
  const text = (side: unknown) => (side as { content: string }[])[0]!.content;
  const expected = generated.flatMap((g) => {
    const scores = g.scores.filter((_, k) => g.completions[k] !== '');
    if (scores.length < 2 || Math.max(...scores) === Math.min(...scores)) return [];
    const at = (score: number) => g.scores.findIndex((s, k) => s === score && g.completions[k] !== '');
    const [best, worst] = [at(Math.max(...scores)), at(Math.min(...scores))];
    return [
      {
        prompt: g.prompt,
        chosen: g.completions[best],
        rejected: g.completions[worst],
        score_chosen: g.scores[best],
        score_rejected: g.scores[worst],
      },
    ];
  });
  expect(expected.length).toBeGreaterThan(0);
  expect(pairs.map((p) => ({ ...p, chosen: text(p.chosen), rejected: text(p.rejected) }))).toEqual(expected);
  expect(stats['online/pairs']).toBe(expected.length);
  expect(stats['online/ties']).toBe(generated.length - expected.length);
  expect(stats['online/score_mean']).toBeCloseTo(
    generated.flatMap((g) => g.scores).reduce((a, b) => a + b, 0) / (generated.length * 3),
    10,
  );
  return generated;
}

describe('online_dpo judges from the config', () => {
  it('reward_model_path: the reward model’s scores, less missing_eos_penalty', async () => {
    const out = tempDir('online-rm');
    const logged: LogEntry[] = [];
    await train(
      {
        ...common,
        model_name_or_path: modelDir('reward-policy'),
        reward_model_path: modelDir('reward'),
        missing_eos_penalty: 2.5,
        output_dir: out,
      },
      { log: () => {}, onLog: (e) => logged.push(e) },
    );
    const generated = expectBestVsWorst(join(out, 'round-1'), logged[0]!);

    const rm = await loadModel(modelDir('reward'));
    const want = await rewardScores(
      rm,
      await Tokenizer.load(modelDir('reward')),
      generated.flatMap((g) => g.completions.map(() => g.prompt)),
      generated.flatMap((g) => g.completions),
    );
    const reasons = generated.flatMap((g) => g.finish_reasons);
    expect(new Set(reasons)).toEqual(new Set(['eos', 'length'])); // both kinds, so the penalty is tested
    generated
      .flatMap((g) => g.scores)
      .forEach((s, i) => expect(s).toBeCloseTo(want[i]! - (reasons[i] === 'eos' ? 0 : 2.5), 5));
  });

  it('judge_regex: 1 when the completion matches, 0 when not', async () => {
    const out = tempDir('online-regex');
    const logged: LogEntry[] = [];
    await train(
      { ...common, model_name_or_path: modelDir('reward-policy'), judge_regex: '[aeiou]{2}', output_dir: out },
      { log: () => {}, onLog: (e) => logged.push(e) },
    );
    const generated = expectBestVsWorst(join(out, 'round-1'), logged[0]!);
    for (const g of generated) expect(g.scores).toEqual(g.completions.map((c) => Number(/[aeiou]{2}/.test(c))));
    expect(logged[0]!['online/ties']).toBeGreaterThan(0);
  });
});
