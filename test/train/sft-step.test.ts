// Model.sftStep's fused path (lm_head tiled into the log-softmax) against its plain full-logits path on the
// llama fixture: loss, TRL's metrics and every parameter's gradient, padded and padding-free (packed) batches,
// and the num_items_in_batch normalisation. Per-step parity with TRL's SFTTrainer is sft-train.test.ts.
import { describe, expect, it } from 'vitest';
import { loadModel, type SftBatch, type SftStepOptions } from '../../src/index.js';
import { modelDir } from '../helpers/fixtures.js';

// Two rows right-padded (pad 2), prompt tokens masked out of the labels.
const padded: SftBatch = {
  inputIds: [
    [0, 17, 33, 41, 9, 60, 1, 2],
    [0, 25, 8, 90, 1, 2, 2, 2],
  ],
  labels: [
    [-100, -100, -100, 41, 9, 60, 1, -100],
    [-100, -100, 8, 90, 1, -100, -100, -100],
  ],
  attentionMask: [
    [1, 1, 1, 1, 1, 1, 1, 0],
    [1, 1, 1, 1, 1, 0, 0, 0],
  ],
};
// The same rows padding-free: one row, positions restarting, each sequence's first label -100.
const packed: SftBatch = {
  inputIds: [[0, 17, 33, 41, 9, 60, 1, 0, 25, 8, 90, 1]],
  labels: [[-100, -100, -100, 41, 9, 60, 1, -100, -100, 8, 90, 1]],
  positionIds: [[0, 1, 2, 3, 4, 5, 6, 0, 1, 2, 3, 4]],
};

async function stepAndGradients(batch: SftBatch, options: SftStepOptions) {
  const model = await loadModel(modelDir('llama'));
  const out = await model.sftStep(batch, options);
  return { out, grads: await model.gradients() };
}

describe('sftStep', () => {
  // With backward the fused step makes the lm_head's gradient in its forward, row chunk by row chunk over the
  // whole vocabulary, the prompt and padding rows dropped (fusedLinearLogProbsLoss): one-row chunks, chunks that
  // do not divide the 7 label rows, one chunk for all. Under bf16 both run lm_head as autocast does; the gradients
  // are at most one bfloat16 rounding (2^-8 of their scale) apart.
  const cases = [false, true].flatMap((bf16) =>
    [1, 3, 64].flatMap((rowChunk) => [
      ['padded', rowChunk, bf16, padded] as const,
      ['padding-free', rowChunk, bf16, packed] as const,
    ]),
  );
  it.each(cases)('%s, rowChunk %i, bf16 %s: fused matches the full-logits path', async (_, rowChunk, bf16, batch) => {
    const fused = await stepAndGradients(batch, { rowChunk, bf16 });
    const plain = await stepAndGradients(batch, { reference: true, bf16 });
    expect(fused.out.labelTokens).toBe(7);
    expect(Math.abs(fused.out.loss - plain.out.loss)).toBeLessThanOrEqual(1e-6 * plain.out.loss);
    expect(Math.abs(fused.out.metrics.entropy - plain.out.metrics.entropy)).toBeLessThanOrEqual(1e-5);
    expect(fused.out.metrics.mean_token_accuracy).toBe(plain.out.metrics.mean_token_accuracy);
    expect(fused.grads.size).toBe(plain.grads.size);
    for (const [name, g] of plain.grads) {
      const f = fused.grads.get(name)!.data;
      const scale = g.data.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      const worst = g.data.reduce((m, v, i) => Math.max(m, Math.abs(v - f[i]!)), 0);
      expect(worst, name).toBeLessThanOrEqual(1e-6 + (bf16 ? 2 ** -8 : 1e-5) * scale);
    }
  });

  it("mean_token_accuracy counts the labels that are the model's argmax, fused as full-logits", async () => {
    const model = await loadModel(modelDir('llama'));
    const ids = [0, 17, 33, 41, 9, 60, 1, 2];
    const logits = await model.logits([ids]);
    const [T, V] = [logits.shape[1]!, logits.shape[2]!];
    const argmax = (t: number) => {
      const row = (logits.data as Float32Array).subarray(t * V, (t + 1) * V);
      return row.indexOf(Math.max(...row));
    };
    // Label t is predicted from position t - 1: the argmax at even t, anything else at odd t (3 of 7 right).
    const labels = ids.map((_, t) => (t === 0 ? -100 : t % 2 === 0 ? argmax(t - 1) : (argmax(t - 1) + 1) % V));
    const batch: SftBatch = { inputIds: [ids], labels: [labels] };
    for (const options of [{}, { rowChunk: 3 }, { reference: true }] as SftStepOptions[]) {
      const out = await model.sftStep(batch, { ...options, backward: true });
      expect(out.metrics.mean_token_accuracy, JSON.stringify(options)).toBeCloseTo(3 / (T - 1), 12);
      await model.zeroGrad();
    }
  });

  it('packed rows attend within their sequence: the same loss as the padded batch; num_tokens as TRL counts it', async () => {
    const model = await loadModel(modelDir('llama'));
    const a = await model.sftStep(padded, { backward: false });
    const b = await model.sftStep(packed, { backward: false });
    expect(Math.abs(a.loss - b.loss)).toBeLessThanOrEqual(1e-5 * a.loss);
    expect(a.metrics.num_tokens).toBe(12); // attention_mask.sum()
    expect(b.metrics.num_tokens).toBe(12); // position_ids.size(1)
  });

  it('divides the summed NLL by numItemsInBatch (the label tokens of the whole optimizer step)', async () => {
    const model = await loadModel(modelDir('llama'));
    const mean = await model.sftStep(padded, { backward: false });
    const scaled = await model.sftStep(padded, { backward: false, numItemsInBatch: 14 });
    expect(Math.abs(scaled.loss - mean.loss / 2)).toBeLessThanOrEqual(1e-6 * mean.loss);
  });
});
