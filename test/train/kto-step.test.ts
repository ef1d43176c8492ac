// Model.ktoStep (native/train/kto_step.cpp) against its closed form: TRL's per-row KTO losses (1 − σ(β(r − KL))
// desirable, 1 − σ(β(KL − r)) undesirable; apo_zero_unpaired 1 − σ(βr), σ(βr)), weighted and averaged, on the
// policy's completion log-probs; the gradient it accumulates equals completionLogProbs back-propagating the
// loss's analytic dLoss/dlogps. (TRL parity of whole training runs: kto-train.test.ts.)
import { describe, expect, it } from 'vitest';
import { loadModel, type KtoStepOptions, type Model } from '../../src/index.js';
import { maxAbs, maxAbsDiff, modelDir } from '../helpers/fixtures.js';

const SEQ = 8;
const batch = {
  inputIds: Int32Array.from({ length: 4 * SEQ }, (_, i) => ((i * 37 + 11) % 200) + 3),
  attentionMask: Uint8Array.from({ length: 4 * SEQ }, (_, i) => (i % SEQ < 8 - (Math.floor(i / SEQ) % 3) ? 1 : 0)),
  completionMask: Uint8Array.from({ length: 4 * SEQ }, (_, i) =>
    i % SEQ >= 3 && i % SEQ < 8 - (Math.floor(i / SEQ) % 3) ? 1 : 0,
  ),
  seqLen: SEQ,
  labels: Uint8Array.from([1, 0, 1, 0]),
};
const refLogps = Float32Array.from([-30.5, -28.25, -32, -27.5]);
const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/** The loss and dLoss/dlogps of TRL's formulas. */
function closedForm(
  logps: Float32Array,
  o: Required<Pick<KtoStepOptions, 'beta' | 'loss_type' | 'desirable_weight' | 'undesirable_weight' | 'kl'>>,
) {
  const n = logps.length;
  let loss = 0;
  const grad = new Float32Array(n);
  logps.forEach((logp, i) => {
    const r = logp - refLogps[i]!;
    const desirable = batch.labels[i] === 1;
    const w = desirable ? o.desirable_weight : o.undesirable_weight;
    // 1 − σ(s·z) with s = ±1 covers every case (σ(x) = 1 − σ(−x)); z = β(r − KL), KL = 0 for apo_zero_unpaired.
    const s = desirable ? 1 : -1;
    const p = sigmoid(s * o.beta * (r - (o.loss_type === 'kto' ? o.kl : 0)));
    loss += (w * (1 - p)) / n;
    grad[i] = (-s * w * o.beta * p * (1 - p)) / n;
  });
  return { loss, grad };
}

async function gradientsOf(model: Model) {
  const grads = await model.gradients();
  await model.zeroGrad();
  return grads;
}

describe('ktoStep', () => {
  it.each([
    { beta: 0.1, loss_type: 'kto', desirable_weight: 1.33, undesirable_weight: 0.75, kl: 0.4 },
    { beta: 0.5, loss_type: 'apo_zero_unpaired', desirable_weight: 1, undesirable_weight: 2, kl: 0 },
  ] as const)('$loss_type: loss, rewards and gradient equal the closed form', async (options) => {
    const model = await loadModel(modelDir('llama'));
    const out = await model.ktoStep(batch, refLogps, { ...options, lossScale: 0.5 });
    const stepGrads = await gradientsOf(model);

    const lp = await model.completionLogProbs(batch.inputIds, batch.attentionMask, batch.completionMask, {
      seqLen: SEQ,
    });
    expect(Array.from(out.logps)).toEqual(Array.from(lp.logps));
    const expected = closedForm(lp.logps, options);
    expect(Math.abs(out.loss - expected.loss)).toBeLessThanOrEqual(1e-6 * expected.loss);
    out.rewards.forEach((r, i) =>
      expect(Math.abs(r - options.beta * (lp.logps[i]! - refLogps[i]!))).toBeLessThanOrEqual(1e-5),
    );

    await model.completionLogProbs(batch.inputIds, batch.attentionMask, batch.completionMask, {
      seqLen: SEQ,
      gradOutput: expected.grad.map((g) => g * 0.5),
    });
    const closedGrads = await gradientsOf(model);
    for (const [name, grad] of closedGrads) {
      const diff = maxAbsDiff(stepGrads.get(name)!.data, grad.data, grad.data.length);
      expect(diff, name).toBeLessThanOrEqual(1e-5 * maxAbs(grad.data) + 1e-9);
    }
    expect(maxAbs(closedGrads.get('lm_head.weight')!.data)).toBeGreaterThan(0);
    await model.dispose();
  });

  it('names the input that does not fit', async () => {
    const model = await loadModel(modelDir('llama'));
    await expect(model.ktoStep({ ...batch, labels: Uint8Array.from([1, 0, 1]) }, refLogps)).rejects.toThrow(
      /labels has 3 values for 4 rows/,
    );
    await expect(model.ktoStep(batch, refLogps.subarray(0, 2))).rejects.toThrow(/refLogps has 2 values for 4 rows/);
    await expect(model.ktoStep(batch, refLogps, { loss_type: 'sigmoid' as never })).rejects.toThrow(
      /'loss_type' must be one of kto, apo_zero_unpaired, got 'sigmoid'/,
    );
    await model.dispose();
  });
});
