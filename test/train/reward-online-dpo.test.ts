// A reward model trained by alignkit (trainer: reward, from the demo's causal LM: a fresh score head, on its
// conversational preference pairs) judges online DPO (reward_model_path) and `alignkit eval` (reward_model): its
// held-out accuracy is high, online DPO's pairs are each prompt's best and worst completion by its scores, and both
// judges' scores are the trained model's (rewardScores, which test/eval/reward-model.test.ts checks against
// transformers).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { demoAssets } from '../../src/demo/demo.js';
import { evaluate } from '../../src/eval/evaluate.js';
import { rewardScores } from '../../src/eval/reward-model.js';
import { loadModel } from '../../src/model.js';
import { Tokenizer } from '../../src/tokenizer/index.js';
import { train, type LogEntry } from '../../src/train/train-from-config.js';
import type { OnlineDpoConfig, RewardConfig } from '../../src/types/config-types.js';
import { tempDir } from '../helpers/fixtures.js';

interface Generated {
  prompt: { role: string; content: string }[];
  completions: string[];
  scores: number[];
}
const readJsonl = <T>(path: string) =>
  readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as T);
const local = { bf16: false, gradient_checkpointing: false, use_cpu: true, save_strategy: 'no' } as const;

describe('train a reward model, then let it judge', () => {
  it('reward → online_dpo (reward_model_path) → alignkit eval (reward_model)', async () => {
    const dir = tempDir('rm-online');
    const rm = join(dir, 'reward');
    // The demo task: the completion in the case the prompt asks for is chosen.
    const rewardRun = await train(
      {
        trainer: 'reward',
        model_name_or_path: demoAssets.model,
        train_dataset: demoAssets.preferencesTrain,
        eval_dataset: demoAssets.preferencesEval,
        output_dir: rm,
        learning_rate: 5e-3,
        per_device_train_batch_size: 16,
        num_train_epochs: 3,
        eval_strategy: 'epoch',
        ...local,
      } satisfies RewardConfig,
      { log: () => {} },
    );
    const lastEval = rewardRun.logHistory.filter((e) => 'eval_accuracy' in e).at(-1)!;
    expect(lastEval.eval_accuracy).toBeGreaterThanOrEqual(0.95);

    const policy = join(dir, 'online');
    const logged: LogEntry[] = [];
    await train(
      {
        trainer: 'online_dpo',
        model_name_or_path: demoAssets.model,
        train_dataset: demoAssets.prompts,
        reward_model_path: rm,
        output_dir: policy,
        iterations: 1,
        num_generations: 3,
        max_new_tokens: 8,
        temperature: 1.0,
        per_device_train_batch_size: 16,
        max_steps: 1,
        ...local,
      } satisfies OnlineDpoConfig,
      { log: () => {}, onLog: (e) => logged.push(e) },
    );
    const generated = readJsonl<Generated>(join(policy, 'round-1', 'generations.jsonl'));
    const judge = await loadModel(rm);
    const tokenizer = await Tokenizer.load(rm);
    const want = await rewardScores(
      judge,
      tokenizer,
      generated.flatMap((g) => g.completions.map(() => g.prompt)),
      generated.flatMap((g) => g.completions),
    );
    generated.flatMap((g) => g.scores).forEach((s, i) => expect(s).toBeCloseTo(want[i]!, 5));
    // Each pair: the prompt's best-scored completion against its worst.
    const pairs = readJsonl<{ score_chosen: number; score_rejected: number }>(join(policy, 'round-1', 'pairs.jsonl'));
    expect(pairs.length).toBeGreaterThan(0);
    for (const p of pairs) expect(p.score_chosen).toBeGreaterThan(p.score_rejected);
    expect(logged[0]!['online/pairs']).toBe(pairs.length);

    // alignkit eval: the online-DPO policy against the demo model, judged by the same reward model.
    const prompts = readJsonl<{ prompt: { role: string; content: string }[] }>(demoAssets.prompts).slice(0, 8);
    const promptFile = join(dir, 'prompts.jsonl');
    writeFileSync(promptFile, prompts.map((p) => JSON.stringify(p)).join('\n') + '\n');
    const { metrics, generationsPath } = await evaluate(
      {
        model_name_or_path: policy,
        ref_model: demoAssets.model,
        reward_model: rm,
        prompt_dataset: promptFile,
        output_dir: join(dir, 'eval'),
        max_new_tokens: 8,
        use_cpu: true,
      },
      { log: () => {} },
    );
    const rows = readJsonl<{ model: string; rewards: number[] }>(generationsPath!);
    const modelScores = await rewardScores(
      judge,
      tokenizer,
      prompts.map((p) => p.prompt),
      rows.map((r) => r.model),
    );
    expect(metrics['eval_reward/model']).toBeCloseTo(modelScores.reduce((a, b) => a + b, 0) / rows.length, 5);
    expect(metrics.eval_prompts).toBe(prompts.length);
    await judge.dispose();
  });
});
