// Per-sequence completion log-probs against TRL (DPOTrainer._compute_loss: selective_log_softmax on the
// shifted logits, masked by the shifted completion mask, summed), values and the gradients of sum(logps)
// for every parameter, recorded by scripts/fixtures/make_completion_logps.py.
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../src/index.js';
import { expectGradients, maxAbs, maxAbsDiff, modelDir, reference } from '../helpers/fixtures.js';

const SEQ = 10;

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rel: number, what: string) {
  expect(actual.length, what).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const diff = Math.abs(actual[i]! - expected[i]!);
    expect(diff, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`).toBeLessThanOrEqual(
      rel * Math.max(1, Math.abs(expected[i]!)),
    );
  }
}

describe.each(['llama', 'qwen2', 'qwen3'])('%s completion log-probs', (name) => {
  it('values, metrics and all parameter gradients match TRL', async () => {
    const [model, ref] = await Promise.all([loadModel(modelDir(`${name}`)), reference(`completion-logps-${name}`)]);
    const ids = ref('input_ids').data as Int32Array;
    const mask = ref('attention_mask').data as Int32Array;
    const completion = ref('completion_mask').data as Int32Array;
    const out = await model.completionLogProbs(ids, mask, completion, { seqLen: SEQ, backward: true });

    expectClose(out.logps, ref('logps').data as Float32Array, 1e-5, 'logps');
    expect([...out.tokens]).toEqual([...(ref('tokens').data as Int32Array)]);
    expect([...out.correct]).toEqual([...(ref('correct').data as Int32Array)]);
    expectClose(out.meanLogit, ref('mean_logit').data as Float32Array, 1e-5, 'meanLogit');
    expectClose(out.entropy, ref('entropy').data as Float32Array, 1e-5, 'entropy');

    await expectGradients(
      model,
      (param) => ref(`grad.${param}`).data as Float32Array,
      (scale) => 1e-5 + 1e-4 * scale,
    );
  });
});

// The fused kernel against the plain log_softmax().gather() path on the same model: tiles that do not divide
// the rows (4 * 9 = 36) or the vocabulary (256), one-row and one-entry tiles, a tile larger than everything;
// prompt and padding positions are the ignored rows. A random upstream gradient weighs the sequences.
// Under bf16 both run lm_head as autocast does (bfloat16 matmul, bfloat16 logits and gradients): the fused
// backward sums its tiles in float32 and rounds once, so the gradients are at most one bfloat16 rounding
// (2^-8 of their scale) from autograd's whatever the tiling (measured: equal).
describe('fused linear log-probs', () => {
  const chunks: [number, number][] = [
    [1, 1],
    [7, 37],
    [5, 100],
    [36, 256],
    [64, 1000],
    [1024, 4096],
  ];
  const cases = [false, true].flatMap((bf16) => chunks.map(([rows, vocab]) => [rows, vocab, bf16] as const));
  it.each(cases)(
    'rowChunk %i, vocabChunk %i, bf16 %s: values and gradients match the reference',
    async (rowChunk, vocabChunk, bf16) => {
      const [model, ref] = await Promise.all([loadModel(modelDir('qwen3')), reference('completion-logps-qwen3')]);
      const ids = ref('input_ids').data as Int32Array;
      const mask = ref('attention_mask').data as Int32Array;
      const completion = ref('completion_mask').data as Int32Array;
      const gradOutput = new Float32Array([0.7, -1.3, 0.25, 2.0]);

      const plain = await model.completionLogProbs(ids, mask, completion, {
        seqLen: SEQ,
        gradOutput,
        reference: true,
        bf16,
      });
      const plainGrads = await model.gradients();
      await model.zeroGrad();
      const fused = await model.completionLogProbs(ids, mask, completion, {
        seqLen: SEQ,
        gradOutput,
        rowChunk,
        vocabChunk,
        bf16,
      });
      const fusedGrads = await model.gradients();

      expectClose(fused.logps, plain.logps, 1e-5, 'logps');
      expectClose(fused.meanLogit, plain.meanLogit, 1e-5, 'meanLogit');
      expectClose(fused.entropy, plain.entropy, 1e-5, 'entropy');
      expect([...fused.tokens]).toEqual([...plain.tokens]);
      expect([...fused.correct]).toEqual([...plain.correct]);
      expect(fusedGrads.size).toBe(plainGrads.size);
      for (const [param, expected] of plainGrads) {
        const got = fusedGrads.get(param)!.data;
        const diff = maxAbsDiff(got, expected.data, expected.data.length);
        expect(diff, `${param}: max abs diff ${diff}`).toBeLessThanOrEqual(
          1e-6 + (bf16 ? 2 ** -8 : 1e-5) * maxAbs(expected.data),
        );
      }
    },
  );

  it('without backward builds no gradients', async () => {
    const [model, ref] = await Promise.all([loadModel(modelDir('llama')), reference('completion-logps-llama')]);
    const args = [
      ref('input_ids').data as Int32Array,
      ref('attention_mask').data as Int32Array,
      ref('completion_mask').data as Int32Array,
    ] as const;
    const out = await model.completionLogProbs(...args, { seqLen: SEQ });
    expectClose(out.logps, ref('logps').data as Float32Array, 1e-5, 'logps');
    expect((await model.gradients()).size).toBe(0);
  });

  it('rejects a gradOutput of the wrong length', async () => {
    const [model, ref] = await Promise.all([loadModel(modelDir('llama')), reference('completion-logps-llama')]);
    const args = [
      ref('input_ids').data as Int32Array,
      ref('attention_mask').data as Int32Array,
      ref('completion_mask').data as Int32Array,
    ] as const;
    await expect(model.completionLogProbs(...args, { seqLen: SEQ, gradOutput: new Float32Array(3) })).rejects.toThrow(
      /gradOutput/,
    );
  });
});
