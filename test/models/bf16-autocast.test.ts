// bf16 autocast against transformers under torch.autocast('cpu', torch.bfloat16), float32 weights, as the HF
// Trainer runs bf16=True (scripts/fixtures/make_bf16_autocast.py): logits, TRL's completion log-probs and
// metric sums, and (llama) every parameter's gradient of sum(logps).
//
// Both sides run the same ATen ops in the same dtypes and order, so the bfloat16 roundings agree: on the machine
// that recorded the fixtures everything matched bit for bit (log-prob sums to 2e-7). The bounds leave room for a
// CPU whose bfloat16 matmuls accumulate in another order and round an element the other way, and stay well
// below the float32 forward's distance from the same references (logits 1-4 % of their scale, log-probs and
// metrics 1e-3-8e-3 relative, gradients 7 % of their scale), so a forward that skipped autocast fails.
//   logits: one bfloat16 ulp at their largest magnitude (2^-8 · max |logit|)
//   logps, entropy, mean logit: 5e-4 relative; gradients: 1e-5 + 2^-8 · max |gradient| per parameter
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../src/index.js';
import { expectGradients, maxAbs, maxAbsDiff, modelDir, reference } from '../helpers/fixtures.js';

const VOCAB = 256;
const BF16_ULP = 2 ** -8;

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rel: number, what: string) {
  expect(actual.length, what).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const diff = Math.abs(actual[i]! - expected[i]!);
    expect(diff, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`).toBeLessThanOrEqual(
      rel * Math.max(1, Math.abs(expected[i]!)),
    );
  }
}

describe.each(['llama', 'qwen2', 'qwen3'])('%s under bf16 autocast', (name) => {
  it('logits, completion log-probs and gradients match transformers under torch.autocast', async () => {
    const [model, ref] = await Promise.all([loadModel(modelDir(name)), reference(`bf16-autocast-${name}`)]);
    expect(model.config.dtype).toBe('float32');
    const mask = ref('attention_mask').data as Int32Array;
    const logits = await model.logits(ref('input_ids').data as Int32Array, mask, { seqLen: 12, bf16: true });
    const want = ref('logits_right').data as Float32Array;
    expect(maxAbsDiff(logits.data, want, VOCAB, mask), 'logits').toBeLessThanOrEqual(BF16_ULP * maxAbs(want));

    const out = await model.completionLogProbs(
      ref('completion_input_ids').data as Int32Array,
      ref('completion_attention_mask').data as Int32Array,
      ref('completion_mask').data as Int32Array,
      { seqLen: 10, backward: true, bf16: true },
    );
    expectClose(out.logps, ref('logps').data as Float32Array, 5e-4, 'logps');
    expectClose(out.entropy, ref('entropy').data as Float32Array, 5e-4, 'entropy');
    expectClose(out.meanLogit, ref('mean_logit').data as Float32Array, 5e-4, 'meanLogit');
    expect([...out.correct]).toEqual([...(ref('correct').data as Int32Array)]);
    if (name === 'llama') {
      await expectGradients(
        model,
        (param) => ref(`grad.${param}`).data as Float32Array,
        (scale) => 1e-5 + BF16_ULP * scale,
      );
    }
  });
});
