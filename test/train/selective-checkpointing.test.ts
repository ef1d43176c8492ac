// Checkpointing some decoder layers (src/train/checkpointed-layers.ts; native: CausalLM::hiddenStates'
// checkpointedLayers): which layers gradient_checkpointing_kwargs.every_n_layers (transformers 5.18's
// _set_gradient_checkpointing: layer i iff i % n == 0) and activation_memory_budget pick; a DPO, SFT and KTO step
// with some layers checkpointed gives the loss, metrics and gradients of the plain step bit for bit (the recompute
// runs the same ops on the same input); and the activation memory sits between all layers checkpointed and none.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cpuCache } from '../../src/info.js';
import { loadModel, type Model } from '../../src/model.js';
import { readSafetensors, type SafetensorsTensor } from '../../src/safetensors.js';
import { checkpointedLayers, checkpointingOptions } from '../../src/train/checkpointed-layers.js';
import type { DpoStepOptions } from '../../src/types/steps.js';
import { fixturesDir, modelDir, tempDir } from '../helpers/fixtures.js';

const { batch } = JSON.parse(readFileSync(join(fixturesDir, 'reference', 'dpo-loss.json'), 'utf8')) as {
  batch: { input_ids: number[][]; attention_mask: number[][]; completion_mask: number[][] };
};
const dpoBatch = {
  inputIds: batch.input_ids,
  attentionMask: batch.attention_mask,
  completionMask: batch.completion_mask,
};
const on = (kwargs: Record<string, unknown> | null, budget: number | null = null) => ({
  gradient_checkpointing: true,
  gradient_checkpointing_kwargs: kwargs,
  activation_memory_budget: budget,
});

describe('which layers are checkpointed', () => {
  it("every_n_layers: layer i iff i % n == 0, transformers' rule; 1 (or absent) is every layer", () => {
    expect(checkpointedLayers(on({ every_n_layers: 2 }), 5)).toEqual([true, false, true, false, true]);
    expect(checkpointedLayers(on({ every_n_layers: 3 }), 7)).toEqual([true, false, false, true, false, false, true]);
    expect(checkpointedLayers(on({ every_n_layers: 1 }), 4)).toBeUndefined();
    expect(checkpointedLayers(on(null), 4)).toBeUndefined();
    expect(checkpointedLayers({ ...on({ every_n_layers: 2 }), gradient_checkpointing: false }, 4)).toBeUndefined();
  });

  it('activation_memory_budget: round((1 − budget)·L) layers, spread evenly from layer 0', () => {
    const count = (flags: boolean[] | undefined) => flags!.filter(Boolean).length;
    expect(checkpointedLayers(on(null, 0), 6)).toEqual(Array(6).fill(true));
    expect(checkpointedLayers(on(null, 1), 6)).toEqual(Array(6).fill(false));
    // 0.5 on an even L: the layers every_n_layers 2 picks.
    expect(checkpointedLayers(on(null, 0.5), 24)).toEqual(checkpointedLayers(on({ every_n_layers: 2 }), 24));
    expect(count(checkpointedLayers(on(null, 0.25), 24))).toBe(18);
    expect(checkpointedLayers(on(null, 0.75), 8)).toEqual([true, false, false, false, true, false, false, false]);
    expect(count(checkpointedLayers(on(null, 0.3), 10))).toBe(7);
    // Spread: no two gaps between checkpointed layers differ by more than one layer.
    const flags = checkpointedLayers(on(null, 0.6), 24)!;
    const at = flags.flatMap((f, i) => (f ? [i] : []));
    const gaps = at.slice(1).map((i, j) => i - at[j]!);
    expect(Math.max(...gaps) - Math.min(...gaps)).toBeLessThanOrEqual(1);
  });

  it('the step options carry the flags only when some layers are left out', () => {
    expect(checkpointingOptions(on({ every_n_layers: 2 }), 2)).toEqual({
      gradient_checkpointing: true,
      checkpointed_layers: [true, false],
    });
    expect(checkpointingOptions(on(null), 2)).toEqual({ gradient_checkpointing: true });
  });
});

// (rows, seqLen) token ids within the llama fixture's vocabulary: activations of ~1 MiB per tensor, which the caching
// allocator counts (128 KiB-64 MiB).
const rows = 16;
const seqLen = 128;
const bigBatch = {
  inputIds: Array.from({ length: rows }, (_, r) =>
    Array.from({ length: seqLen }, (_, t) => 3 + ((r * 37 + t * 11) % 250)),
  ),
  completionMask: Array.from({ length: rows }, () => Array.from({ length: seqLen }, (_, t) => (t >= 16 ? 1 : 0))),
};
const zerosFor = (pairs: number) => ({ chosen: new Float32Array(pairs), rejected: new Float32Array(pairs) });
const zeros = zerosFor(rows / 2);

/**
 * The llama fixture deepened to `layers` decoder layers (layer i: the fixture's layer i % 2), written in `dir`: with
 * two layers, recomputing one in backward costs as much memory as keeping it.
 */
async function deepLlama(dir: string, layers: number): Promise<string> {
  const source = modelDir('llama');
  const config = JSON.parse(readFileSync(join(source, 'config.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, num_hidden_layers: layers }));
  const { tensors } = await readSafetensors(join(source, 'model.safetensors'));
  const header: Record<string, unknown> = {};
  const chunks: Buffer[] = [];
  let offset = 0;
  const add = (name: string, t: SafetensorsTensor) => {
    const bytes = Buffer.from(Float32Array.from(t.data as Float32Array).buffer);
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    offset += bytes.length;
    chunks.push(bytes);
  };
  for (const [name, t] of tensors) {
    const layer = /^model\.layers\.(\d+)\.(.*)$/.exec(name);
    if (!layer) add(name, t);
    else for (let i = Number(layer[1]); i < layers; i += 2) add(`model.layers.${i}.${layer[2]}`, t);
  }
  const json = JSON.stringify(header);
  const headerBytes = Buffer.from(json + ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(headerBytes.length));
  writeFileSync(join(dir, 'model.safetensors'), Buffer.concat([length, headerBytes, ...chunks]));
  return dir;
}

describe('activation memory', () => {
  // The allocator's live peak only grows: measured from the least memory to the most, each setting must raise it.
  it('every_n_layers 2 keeps more than checkpointing every layer and less than none', async () => {
    const layers = 8;
    const policy = await loadModel(await deepLlama(tempDir('deep-llama'), layers));
    const peakAfter = async (options: DpoStepOptions) => {
      await policy.zeroGrad();
      await policy.dpoStep(bigBatch, zeros, { bf16: false, ...options });
      return cpuCache().peakLiveBytes;
    };
    const all = await peakAfter({ gradient_checkpointing: true });
    const everyOther = checkpointedLayers(on({ every_n_layers: 2 }), layers);
    const some = await peakAfter({ gradient_checkpointing: true, checkpointed_layers: everyOther });
    const none = await peakAfter({ gradient_checkpointing: false });
    // Four layers' saved activations each way: each at least a few (rows·seqLen·hidden) float32 tensors of 512 KiB.
    const tensor = rows * seqLen * policy.config.hiddenSize * 4;
    expect(some - all).toBeGreaterThan(4 * 2 * tensor);
    expect(none - some).toBeGreaterThan(4 * 2 * tensor);
    await policy.dispose();
  });
});

async function gradientsOf(policy: Model) {
  const grads = await policy.gradients();
  expect(grads.size).toBe(policy.parameters().length);
  return new Map([...grads].map(([name, g]) => [name, g.data]));
}

describe.each([false, true])('bf16 %s: some layers checkpointed give the plain step', (bf16) => {
  const some = { gradient_checkpointing: true, checkpointed_layers: [true, false] };

  it('DPO', async () => {
    const [policy, reference] = await Promise.all([loadModel(modelDir('llama')), loadModel(modelDir('llama-ref'))]);
    const step = async (options: DpoStepOptions) => {
      await policy.zeroGrad();
      const out = await policy.dpoStep(dpoBatch, reference, { loss_type: ['sigmoid', 'sft'], bf16, ...options });
      return { ...out, grads: await gradientsOf(policy) };
    };
    const plain = await step({});
    const checkpointed = await step(some);
    expect(checkpointed.loss).toBe(plain.loss);
    expect(checkpointed.metrics).toEqual(plain.metrics);
    expect(checkpointed.grads).toEqual(plain.grads);
  });

  it('SFT', async () => {
    const policy = await loadModel(modelDir('llama'));
    const labels = batch.input_ids.map((row, r) => row.map((t, i) => (batch.completion_mask[r]![i] ? t : -100)));
    const step = async (options: object) => {
      await policy.zeroGrad();
      const out = await policy.sftStep(
        { inputIds: batch.input_ids, attentionMask: batch.attention_mask, labels },
        { bf16, ...options },
      );
      return { ...out, grads: await gradientsOf(policy) };
    };
    const plain = await step({});
    const checkpointed = await step(some);
    expect(checkpointed.loss).toBe(plain.loss);
    expect(checkpointed.grads).toEqual(plain.grads);
  });

  it('KTO', async () => {
    const policy = await loadModel(modelDir('llama'));
    const n = batch.input_ids.length;
    const kto = { ...dpoBatch, labels: Uint8Array.from({ length: n }, (_, i) => (i % 2 === 0 ? 1 : 0)) };
    const refLogps = Float32Array.from({ length: n }, (_, i) => -20 - i);
    const step = async (options: object) => {
      await policy.zeroGrad();
      const out = await policy.ktoStep(kto, refLogps, { bf16, kl: 0.1, ...options });
      return { ...out, grads: await gradientsOf(policy) };
    };
    const plain = await step({});
    const checkpointed = await step(some);
    expect(checkpointed.loss).toBe(plain.loss);
    expect(checkpointed.grads).toEqual(plain.grads);
  });

  it('a flag list of the wrong length is refused, naming both counts', async () => {
    const policy = await loadModel(modelDir('llama'));
    await expect(
      policy.dpoStep(dpoBatch, zerosFor(batch.input_ids.length / 2), {
        bf16,
        gradient_checkpointing: true,
        checkpointed_layers: [true],
      }),
    ).rejects.toThrow(/checkpointedLayers holds 1 flags for 2 decoder layers/);
  });
});
