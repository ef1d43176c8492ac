// evaluate() on preference pairs against TRL 1.13's DPOTrainer.evaluate() (the tiny Llama as policy, the perturbed
// llama-ref as reference, beta 0.3, batches of 3 with a short last one): eval_rewards/* and eval_logps/* are TRL's
// (means of per-batch means); preference accuracy and perplexity of both models from their own log-probs of TRL's
// tokenization. Recorded by scripts/fixtures/make_trl_dpo_evaluate.py.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { evaluate } from '../../src/eval/evaluate.js';
import { mergeAdapter } from '../../src/merge.js';
import { fixturesDir, modelDir, tempDir } from '../helpers/fixtures.js';

const fixture = JSON.parse(readFileSync(join(fixturesDir, 'trl', 'dpo-evaluate.json'), 'utf8')) as {
  beta: number;
  per_device_eval_batch_size: number;
  expected: Record<string, number>;
};

function expectClose(metrics: Record<string, number>, keys: string[]) {
  for (const key of keys) {
    const want = fixture.expected[key]!;
    expect(Math.abs(metrics[key]! - want), `${key}: ${metrics[key]} vs ${want}`).toBeLessThanOrEqual(
      1e-5 * Math.abs(want) + 1e-6,
    );
  }
}

describe('evaluate() on preference data', () => {
  it('reports TRL evaluate()’s rewards and log-probs, and both models’ preference accuracy and perplexity', async () => {
    const dir = tempDir('eval-pref');
    const { metrics, resultsPath } = await evaluate(
      {
        model_name_or_path: modelDir('llama'),
        ref_model: modelDir('llama-ref'),
        eval_dataset: join(fixturesDir, 'trl', 'dpo-train.jsonl'),
        beta: fixture.beta,
        per_device_eval_batch_size: fixture.per_device_eval_batch_size,
        output_dir: dir,
        use_cpu: true,
      },
      { log: () => {} },
    );
    expect(Object.keys(metrics).sort()).toEqual(Object.keys(fixture.expected).sort());
    expectClose(metrics, Object.keys(fixture.expected));
    expect(JSON.parse(readFileSync(resultsPath, 'utf8'))).toEqual(metrics);
    expect(existsSync(join(dir, 'eval.arrow'))).toBe(true); // tokenized once, reused while the fingerprint matches
  });

  it('without a reference reports only the reference-free figures', async () => {
    const { metrics } = await evaluate(
      {
        model_name_or_path: modelDir('llama'),
        eval_dataset: join(fixturesDir, 'trl', 'dpo-train.jsonl'),
        per_device_eval_batch_size: 3,
        output_dir: tempDir('eval-noref'),
        use_cpu: true,
      },
      { log: () => {} },
    );
    const own = [
      'eval_logps/chosen',
      'eval_logps/rejected',
      'eval_preference_accuracy',
      'eval_perplexity',
      'eval_pairs',
    ];
    expect(Object.keys(metrics).sort()).toEqual(own.sort());
    expectClose(metrics, own);
  });
});

describe('evaluate() on a LoRA adapter folder', () => {
  it('evaluates the adapter on its base: the figures of the merged model', async () => {
    const merged = tempDir('eval-merged');
    await mergeAdapter(modelDir('llama-lora'), merged);
    const run = (model: string) =>
      evaluate(
        {
          model_name_or_path: model,
          ref_model: modelDir('llama'),
          eval_dataset: join(fixturesDir, 'trl', 'dpo-train.jsonl'),
          per_device_eval_batch_size: 3,
          output_dir: tempDir('eval-lora'),
          use_cpu: true,
        },
        { log: () => {} },
      );
    const [adapter, full] = [(await run(modelDir('llama-lora'))).metrics, (await run(merged)).metrics];
    expect(Object.keys(adapter).sort()).toEqual(Object.keys(full).sort());
    for (const [key, want] of Object.entries(full))
      expect(Math.abs(adapter[key]! - want), key).toBeLessThanOrEqual(1e-4 * Math.abs(want) + 1e-6);
    expect(Math.abs(adapter['eval_rewards/margins']!)).toBeGreaterThan(1e-3);
  });
});

describe('eval config', () => {
  const base = { model_name_or_path: modelDir('llama'), eval_dataset: join(fixturesDir, 'trl', 'dpo-train.jsonl') };
  it.each([
    [{ ...base, bta: 0.1 }, /unknown key 'bta' for alignkit eval \(did you mean 'beta'\?\)/],
    [{ eval_dataset: base.eval_dataset }, /'model_name_or_path' is required/],
    [{ model_name_or_path: base.model_name_or_path }, /give 'eval_dataset'/],
    [{ ...base, judge: 'judge.mjs' }, /need 'prompt_dataset'/],
    [{ ...base, prompt_dataset: 'p.jsonl', judge: 'judge.mjs' }, /'ref_model'/],
    [{ ...base, top_p: 2 }, /'top_p' must be at most 1/],
  ])('refuses %j', async (config, message) => {
    await expect(evaluate(config, { log: () => {} })).rejects.toThrow(message);
  });
});
