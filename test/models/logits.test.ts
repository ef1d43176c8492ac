// Logits against transformers 5.18 for every fixture family (scripts/fixtures/make_models.py), fp32.
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../src/index.js';
import { maxAbsDiff, modelDir, reference } from '../helpers/fixtures.js';

const TOLERANCE = 1e-4;
const VOCAB = 256;

const families = [
  ['llama', 'Llama, GQA, untied'],
  ['llama3-tied', 'Llama 3 RoPE scaling, tied, hub-style rope_theta/rope_scaling and torch_dtype'],
  ['mistral', 'Mistral, sliding window shorter than the sequence'],
  ['qwen2', 'Qwen2, q/k/v bias, tied'],
  ['qwen3', 'Qwen3, q/k norm, head_dim ≠ hidden / heads'],
  ['llama-sharded', 'Llama from three shards and an index'],
  ['llama-bf16', 'bfloat16 checkpoint loaded as float32'],
  ['qwen2-f16', 'float16 checkpoint loaded as float32'],
] as const;

describe.each(families)('%s (%s)', (name) => {
  it('matches transformers on full, right-padded and left-padded batches', async () => {
    const [model, ref] = await Promise.all([loadModel(modelDir(name)), reference(name)]);
    expect(model.config.dtype).toBe('float32');

    const full = await model.logits(ref('input_ids_full').data as Int32Array, undefined, { seqLen: 12 });
    expect(full.shape).toEqual([2, 12, VOCAB]);
    expect(maxAbsDiff(full.data, ref('logits_full').data as Float32Array, VOCAB)).toBeLessThanOrEqual(TOLERANCE);

    const cases = [
      ['input_ids', 'attention_mask', undefined, 'logits_right'],
      ['input_ids_left', 'attention_mask_left', undefined, 'logits_left'],
      ['input_ids_left', 'attention_mask_left', 'position_ids_left', 'logits_left_pos'],
    ] as const;
    for (const [ids, maskKey, positions, expected] of cases) {
      const mask = ref(maskKey).data as Int32Array;
      const out = await model.logits(ref(ids).data as Int32Array, mask, {
        seqLen: 12,
        positionIds: positions && (ref(positions).data as Int32Array),
      });
      expect(out.shape).toEqual([3, 12, VOCAB]);
      const diff = maxAbsDiff(out.data, ref(expected).data as Float32Array, VOCAB, mask);
      expect(diff, `${expected} max abs diff`).toBeLessThanOrEqual(TOLERANCE);
    }
  });
});

describe('logits API', () => {
  it('takes nested arrays and gives the same values as typed arrays', async () => {
    const [model, ref] = await Promise.all([loadModel(modelDir('llama')), reference('llama')]);
    const ids = ref('input_ids_full').data as Int32Array;
    const rows = [Array.from(ids.subarray(0, 12)), Array.from(ids.subarray(12, 24))];
    const fromRows = await model.logits(rows);
    const fromTyped = await model.logits(ids, undefined, { seqLen: 12 });
    expect(fromRows.shape).toEqual([2, 12, VOCAB]);
    expect(maxAbsDiff(fromRows.data, fromTyped.data, VOCAB)).toBe(0);
  });

  // transformers' find_packed_sequence_indices: without an attention mask, a position that is not the previous
  // one + 1 starts a new sequence, which attends only to itself (padding-free and packed SFT batches).
  it('a row of packed sequences (positions restarting, no attention mask) gives each sequence its own logits', async () => {
    const model = await loadModel(modelDir('llama'));
    const a = [5, 9, 13, 7, 20],
      b = [11, 4, 8];
    const packed = await model.logits([[...a, ...b]], undefined, { positionIds: [[0, 1, 2, 3, 4, 0, 1, 2]] });
    const [alone0, alone1] = [await model.logits([a]), await model.logits([b])];
    expect(maxAbsDiff(packed.data.subarray(0, 5 * VOCAB), alone0.data, VOCAB)).toBeLessThanOrEqual(1e-5);
    expect(maxAbsDiff(packed.data.subarray(5 * VOCAB), alone1.data, VOCAB)).toBeLessThanOrEqual(1e-5);
    // With an attention mask the positions only rotate: the second sequence sees the first.
    const masked = await model.logits([[...a, ...b]], [[1, 1, 1, 1, 1, 1, 1, 1]], {
      positionIds: [[0, 1, 2, 3, 4, 0, 1, 2]],
    });
    expect(maxAbsDiff(masked.data.subarray(5 * VOCAB), alone1.data, VOCAB)).toBeGreaterThan(1e-3);
  });

  it('rejects shapes that do not fit and token ids outside the vocabulary', async () => {
    const model = await loadModel(modelDir('llama'));
    await expect(model.logits(new Int32Array(10), undefined, { seqLen: 4 })).rejects.toThrow(/do not split into rows/);
    await expect(model.logits([[1, 2, 3]], [[1, 1]])).rejects.toThrow(
      /attentionMask: shape \(1, 2\) differs from inputIds \(1, 3\)/,
    );
    await expect(
      model.logits([
        [1, 2, 3],
        [4, 5],
      ]),
    ).rejects.toThrow(/inputIds: row 1 has 2 values, row 0 has 3/);
    await expect(model.logits([[1, 2, 999]])).rejects.toMatchObject({
      code: 'ERR_INVALID_ARG',
      message: expect.stringMatching(/999 outside the vocabulary \[0, 256\)/),
    });
  });
});
