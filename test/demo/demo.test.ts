// The demo end to end (SFT → DPO → eval → report on the bundled tiny Llama), as `npx alignkit demo` runs it: DPO
// must show alignment working on held-out data — the model prefers the chosen answers and writes in the asked
// case far more often than the SFT model it started from, and wins against it under the rule judge.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runDemo } from '../../src/demo/demo.js';
import { evaluate } from '../../src/eval/evaluate.js';
import { tempDir } from '../helpers/fixtures.js';

describe('alignkit demo', () => {
  it('aligns the bundled model: held-out preference accuracy, instruction following and win rate go up', async () => {
    const result = await runDemo({ outputDir: tempDir('demo'), log: () => {} });
    const { preferenceAccuracy, followsInstruction, winRate } = result;
    // The SFT model saw answers in a random case: it prefers either answer about as often as not.
    expect(preferenceAccuracy.before).toBeLessThan(0.75);
    expect(preferenceAccuracy.after).toBeGreaterThanOrEqual(0.9);
    expect(followsInstruction.after - followsInstruction.before).toBeGreaterThanOrEqual(0.3);
    expect(winRate).toBeGreaterThanOrEqual(0.7);

    const metrics = JSON.parse(readFileSync(result.eval.resultsPath, 'utf8')) as Record<string, number>;
    expect(metrics['eval_rewards/accuracies']).toBeGreaterThanOrEqual(0.9);
    expect(metrics.eval_win_rate).toBe(winRate);
    for (const stage of ['sft', 'dpo']) {
      expect(existsSync(join(result.outputDir, stage, 'model.safetensors'))).toBe(true);
      expect(existsSync(join(result.outputDir, `${stage}.yaml`))).toBe(true);
    }
    expect(readFileSync(result.report.html, 'utf8')).toContain('eval_win_rate');
    // The written eval.yaml reruns the evaluation on its own, judge included.
    const rerun = await evaluate(join(result.outputDir, 'eval.yaml'), { log: () => {} });
    expect(rerun.metrics).toEqual(metrics);
    expect(result.report.plots.length).toBeGreaterThan(3);
  }, 600_000);
});
