// evaluate() on prompts: the model's and the reference's greedy completions (those of model.generate, which
// test/generate checks token for token against transformers) in generations.jsonl, and the win rate as the mean of
// the judge's verdicts — a judge function, a judge module named in the config, or a reward model.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { evaluate } from '../../src/eval/evaluate.js';
import { rewardScores } from '../../src/eval/reward-model.js';
import { loadModel } from '../../src/model.js';
import { Tokenizer } from '../../src/tokenizer/index.js';
import { fixturesDir, modelDir, tempDir } from '../helpers/fixtures.js';

const prompts = ['The sky is', 'Two plus two is', 'Water boils at', 'Once upon a time'];

function setup(extra: Record<string, unknown> = {}) {
  const dir = tempDir('eval-gen');
  const data = join(dir, 'prompts.jsonl');
  writeFileSync(data, prompts.map((prompt, i) => JSON.stringify({ prompt, id: i })).join('\n') + '\n');
  const config = {
    model_name_or_path: modelDir('llama'),
    ref_model: modelDir('llama-ref'),
    prompt_dataset: data,
    output_dir: dir,
    max_new_tokens: 6,
    per_device_eval_batch_size: 3,
    use_cpu: true,
    ...extra,
  };
  return { dir, config };
}

const lines = (path: string) =>
  readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('evaluate() on prompts', () => {
  it('writes both models’ completions and the judge’s win rate', async () => {
    const { config } = setup();
    const seen: unknown[] = [];
    // Prefers the longer completion: a verdict that depends on both texts and on the row.
    const judge = (prompt: unknown, a: string, b: string, row: Record<string, unknown>): number => {
      seen.push(row.id);
      return a.length > b.length ? 1 : a.length < b.length ? 0 : 0.5;
    };
    const { metrics, generationsPath } = await evaluate(config, { judge, log: () => {} });
    const rows = lines(generationsPath!);
    expect(seen).toEqual([0, 1, 2, 3]);

    const direct = async (dir: string) =>
      (await (await loadModel(dir)).generate(prompts, { max_new_tokens: 6, seed: 42 })).map((g) => g.text);
    expect(rows.map((r) => r.model)).toEqual(await direct(modelDir('llama')));
    expect(rows.map((r) => r.reference)).toEqual(await direct(modelDir('llama-ref')));
    expect(rows.map((r) => r.prompt)).toEqual(prompts);
    const verdicts = rows.map((r) => judge(r.prompt, r.model as string, r.reference as string, {}));
    expect(rows.map((r) => r.verdict)).toEqual(verdicts);
    expect(metrics.eval_win_rate).toBeCloseTo(verdicts.reduce((a, b) => a + b, 0) / prompts.length, 12);
    expect(metrics.eval_prompts).toBe(prompts.length);
  });

  it('imports the config’s judge module, and refuses a verdict that is not 1, 0 or 0.5', async () => {
    const { dir, config } = setup();
    const good = join(dir, 'judge.mjs');
    writeFileSync(good, 'export default (prompt, a, b, row) => (row.id % 2 ? 1 : 0);\n');
    const { metrics } = await evaluate({ ...config, judge: good }, { log: () => {} });
    expect(metrics.eval_win_rate).toBe(0.5);

    const bad = join(dir, 'bad-judge.mjs');
    writeFileSync(bad, 'export function judge() { return 0.7; }\n');
    await expect(evaluate({ ...config, judge: bad }, { log: () => {} })).rejects.toThrow(
      /prompts.jsonl row 0: must return 1, 0 or 0.5, got 0.7/,
    );
    await expect(evaluate({ ...config, judge: join(dir, 'missing.mjs') }, { log: () => {} })).rejects.toThrow(
      /judge: cannot import/,
    );
  });

  it('judges by a reward model: the completion with the higher score wins', async () => {
    // Two untrained causal LMs on the reward model's (the demo's) tokenizer: their completions differ.
    const { config } = setup({
      model_name_or_path: modelDir('reward-policy'),
      ref_model: join(fixturesDir, 'demo', 'model'),
      reward_model: modelDir('reward'),
    });
    const { metrics, generationsPath } = await evaluate(config, { log: () => {} });
    const rows = lines(generationsPath!);
    const reward = await loadModel(modelDir('reward'));
    const tokenizer = await Tokenizer.load(modelDir('reward'));
    const scores = await rewardScores(
      reward,
      tokenizer,
      [...prompts, ...prompts],
      [...rows.map((r) => r.model as string), ...rows.map((r) => r.reference as string)],
    );
    expect(rows.some((r) => r.model !== r.reference)).toBe(true);
    rows.forEach((r, i) => {
      const [ours, theirs] = [scores[i]!, scores[prompts.length + i]!];
      expect(r.rewards).toEqual([expect.closeTo(ours, 5), expect.closeTo(theirs, 5)]);
      expect(r.verdict).toBe(ours > theirs ? 1 : ours < theirs ? 0 : 0.5);
    });
    expect(metrics.eval_win_rate).toBeCloseTo(rows.reduce((a, r) => a + (r.verdict as number), 0) / prompts.length, 12);
    expect(metrics['eval_reward/model']).toBeCloseTo(
      scores.slice(0, prompts.length).reduce((a, b) => a + b, 0) / prompts.length,
      5,
    );
  });
});

describe('prompt rows', () => {
  it('names the file, row and field of a bad row, or skips and counts it with skip_invalid_rows', async () => {
    const dir = tempDir('eval-bad-prompts');
    const data = join(dir, 'prompts.jsonl');
    writeFileSync(data, '{"prompt": "The sky is"}\n{"question": "no prompt"}\n{"prompt": 7}\n');
    const config = {
      model_name_or_path: modelDir('llama'),
      prompt_dataset: data,
      output_dir: dir,
      max_new_tokens: 2,
      use_cpu: true,
    };
    await expect(evaluate(config, { log: () => {} })).rejects.toThrow(/prompts.jsonl: row 1, field 'prompt': missing/);
    const notes: string[] = [];
    const { metrics } = await evaluate({ ...config, skip_invalid_rows: true }, { log: (m) => notes.push(m) });
    expect(metrics.eval_prompts).toBe(1);
    expect(notes.filter((n) => n.startsWith('skipped:'))).toHaveLength(2);
  });
});
