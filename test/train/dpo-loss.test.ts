// One DPO step against TRL 1.13 (DPOTrainer.compute_loss on a fresh trainer, train mode): the loss, the
// metrics it appends to _metrics["train"], and the policy's gradients, for every loss type and the options that
// change its inputs (label_smoothing, f-divergences, use_weighting, ld_alpha, weighted lists). Policy: the llama
// fixture; reference: llama-ref (llama perturbed). Recorded by scripts/fixtures/make_dpo_loss.py.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type DpoStepOptions, type Model } from '../../src/index.js';
import { fixturesDir, expectGradients, modelDir, reference } from '../helpers/fixtures.js';

interface Case {
  name: string;
  options: DpoStepOptions;
  loss: number;
  metrics: Record<string, number>;
}
interface Fixture {
  batch: { input_ids: number[][]; attention_mask: number[][]; completion_mask: number[][] };
  cases: Case[];
}

const fixture = JSON.parse(readFileSync(join(fixturesDir, 'reference', 'dpo-loss.json'), 'utf8')) as Fixture;
const batch = {
  inputIds: fixture.batch.input_ids,
  attentionMask: fixture.batch.attention_mask,
  completionMask: fixture.batch.completion_mask,
};
const GRAD_CASES = ['sigmoid', 'ipo', 'robust_smoothing', 'use_weighting', 'ld_alpha_sft'];

// Relative 1e-5; absolute 1e-6 for metrics near 0 (rewards are β·log-ratios of a slightly perturbed reference).
function expectNear(actual: number, expected: number, what: string, abs = 1e-6) {
  expect(Math.abs(actual - expected), `${what}: ${actual} vs ${expected}`).toBeLessThanOrEqual(
    Math.max(abs, 1e-5 * Math.abs(expected)),
  );
}

let policy: Model;
let ref: Model;
beforeAll(async () => {
  [policy, ref] = await Promise.all([loadModel(modelDir('llama')), loadModel(modelDir('llama-ref'))]);
});

describe('DPO loss family', () => {
  it.each(fixture.cases.map((c) => [c.name, c] as const))('%s: loss and metrics match TRL', async (_, c) => {
    await policy.zeroGrad();
    const out = await policy.dpoStep(batch, ref, c.options);
    expectNear(out.loss, c.loss, 'loss', 1e-9); // use_weighting's loss is ~1e-3: no absolute slack
    expect(Object.keys(out.metrics).sort()).toEqual(Object.keys(c.metrics).sort());
    for (const [key, expected] of Object.entries(c.metrics))
      expectNear(out.metrics[key as keyof typeof out.metrics], expected, key);
  });

  it.each(GRAD_CASES)('%s: policy gradients match TRL', async (name) => {
    const c = fixture.cases.find((x) => x.name === name)!;
    const grads = await reference('dpo-loss-grads');
    await policy.zeroGrad();
    await policy.dpoStep(batch, ref, c.options);
    // Relative to the gradient's own scale (DPO gradients are β-scaled; WPO's are ~1e-3 smaller still).
    await expectGradients(
      policy,
      (param) => grads(`${name}.grad.${param}`).data as Float32Array,
      (scale) => 1e-5 * scale + 1e-12,
    );
  });

  // The fixture's vocabulary (256) fits one default tile: split it so that the online merge of the
  // statistics (WPO's log Σ p², LD-DPO's tail) across vocabulary and row tiles is exercised, and check the
  // plain full-logits path too.
  it.each([{ rowChunk: 7, vocabChunk: 37 }, { rowChunk: 1, vocabChunk: 100 }, { reference: true }])(
    'use_weighting and ld_alpha with %o match TRL',
    async (tiling) => {
      for (const name of ['use_weighting', 'use_weighting_ipo', 'ld_alpha_sft']) {
        const c = fixture.cases.find((x) => x.name === name)!;
        await policy.zeroGrad();
        const out = await policy.dpoStep(batch, ref, { ...c.options, ...tiling });
        expectNear(out.loss, c.loss, `${name} loss`, 1e-9);
        for (const [key, expected] of Object.entries(c.metrics))
          expectNear(out.metrics[key as keyof typeof out.metrics], expected, `${name} ${key}`);
      }
    },
  );

  it('precomputed reference log-probs give the same step as the reference model', async () => {
    const seqLen = batch.inputIds[0]!.length;
    const flat = (rows: number[][]) => Int32Array.from(rows.flat());
    const refLogps = await ref.completionLogProbs(
      flat(batch.inputIds),
      flat(batch.attentionMask),
      flat(batch.completionMask),
      { seqLen },
    );
    const pairs = refLogps.logps.length / 2;
    const precomputed = { chosen: refLogps.logps.slice(0, pairs), rejected: refLogps.logps.slice(pairs) };
    for (const name of ['sigmoid', 'ipo', 'aot']) {
      const c = fixture.cases.find((x) => x.name === name)!;
      await policy.zeroGrad();
      const out = await policy.dpoStep(batch, precomputed, c.options);
      expectNear(out.loss, c.loss, `${name} loss`);
      expectNear(out.metrics['rewards/margins'], c.metrics['rewards/margins']!, `${name} rewards/margins`);
    }
  });

  it('the policy as its own reference gives zero rewards and log(2) sigmoid loss', async () => {
    await policy.zeroGrad();
    const out = await policy.dpoStep(batch, policy, { loss_type: ['sigmoid'] });
    expectNear(out.loss, Math.log(2), 'loss');
    expect([...out.chosenRewards, ...out.rejectedRewards].every((r) => r === 0)).toBe(true);
  });

  it('refuses what TRL refuses, naming the field', async () => {
    await expect(policy.dpoStep(batch, ref, { loss_type: ['exo_pair'] })).rejects.toThrow(/label_smoothing/);
    await expect(policy.dpoStep(batch, ref, { loss_type: ['sigmoid', 'sft'], loss_weights: [1] })).rejects.toThrow(
      /loss_weights/,
    );
    await expect(policy.dpoStep(batch, ref, { loss_type: ['aot'], use_weighting: true })).rejects.toThrow(
      /use_weighting/,
    );
    await expect(policy.dpoStep(batch, ref, { loss_type: ['sigmoid', 'sft'], use_weighting: true })).rejects.toThrow(
      /use_weighting/,
    );
    await expect(
      policy.dpoStep(batch, ref, { loss_type: ['bco_pair'], f_divergence_type: 'forward_kl' }),
    ).rejects.toThrow(/f_divergence_type/);
    await expect(policy.dpoStep(batch, ref, { loss_type: ['nope' as 'sigmoid'] })).rejects.toThrow(/loss_type/);
    await expect(policy.dpoStep(batch, { chosen: new Float32Array(2), rejected: new Float32Array(3) })).rejects.toThrow(
      /reference/,
    );
  });
});
