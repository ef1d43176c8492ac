// LoRA against PEFT 0.21 (scripts/fixtures/make_peft_lora.py): logits with PEFT-written adapters, the seeded
// initialisation, the files we write, merging, and which parameters train.
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel, manualSeed, mergeAdapter, readSafetensors } from '../../src/index.js';
import { fixturesDir, maxAbsDiff, modelDir, reference, tempDir } from '../helpers/fixtures.js';

const TOLERANCE = 1e-4;
const VOCAB = 256;
const SEQ = 10;
const ALL_LINEAR = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];

const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;

async function logitsWith(adapter: string | null) {
  const [model, ref] = await Promise.all([loadModel(modelDir('llama')), reference('peft-lora')]);
  if (adapter) await model.loadAdapter(modelDir(adapter));
  const mask = ref('attention_mask').data as Int32Array;
  const out = await model.logits(ref('input_ids').data as Int32Array, mask, { seqLen: SEQ });
  return { model, ref, mask, out };
}

describe('PEFT adapters', () => {
  it.each([
    ['llama-lora', 'logits_lora', 'all-linear, r 4, alpha 8'],
    ['llama-lora-rs', 'logits_lora_rs', 'q_proj + v_proj, rsLoRA'],
  ])("%s gives PEFT's logits (%s)", async (adapter, key) => {
    const { ref, mask, out } = await logitsWith(adapter);
    expect(maxAbsDiff(out.data, ref(key).data as Float32Array, VOCAB, mask)).toBeLessThanOrEqual(TOLERANCE);
    // The adapters change the output: the comparison is not against the base model by accident.
    expect(maxAbsDiff(out.data, ref('logits_base').data as Float32Array, VOCAB, mask)).toBeGreaterThan(1e-2);
  });

  it('merging folds the adapters into the weights as merge_and_unload does', async () => {
    const { model, ref, mask } = await logitsWith('llama-lora');
    await model.mergeLora();
    expect(model.config.lora).toBe(false);
    const out = await model.logits(ref('input_ids').data as Int32Array, mask, { seqLen: SEQ });
    expect(maxAbsDiff(out.data, ref('logits_lora').data as Float32Array, VOCAB, mask)).toBeLessThanOrEqual(TOLERANCE);
    const dir = tempDir('lora-merged');
    await model.save(dir);
    const { tensors } = await readSafetensors(join(dir, 'model.safetensors'));
    const { tensors: expected } = await readSafetensors(join(fixturesDir, 'reference', 'peft-lora.safetensors'));
    const merged = [...expected.keys()].filter((k) => k.startsWith('merged.'));
    expect(merged).toHaveLength(14);
    for (const key of merged) {
      const want = expected.get(key)!.data as Float32Array;
      expect(
        maxAbsDiff(tensors.get(key.slice('merged.'.length))!.data as Float32Array, want, want.length),
      ).toBeLessThanOrEqual(1e-6);
    }
  });

  it('a loaded adapter is what trains: only its tensors get gradients', async () => {
    const { model } = await logitsWith('llama-lora-rs');
    expect(model.config.lora).toBe(true);
    await model.forwardBackward([[5, 9, 11, 30, 4]]);
    const names = [...(await model.gradients()).keys()].sort();
    expect(names).toEqual(
      [0, 1]
        .flatMap((l) =>
          ['q_proj', 'v_proj'].flatMap((p) =>
            ['A', 'B'].map((m) => `model.layers.${l}.self_attn.${p}.lora_${m}.weight`),
          ),
        )
        .sort(),
    );
  });

  it('refuses adapters it does not apply, naming the file and field', async () => {
    const dir = tempDir('lora-dora');
    const config = readJson(join(modelDir('llama-lora'), 'adapter_config.json'));
    writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify({ ...config, use_dora: true }));
    copyFileSync(join(modelDir('llama-lora'), 'adapter_model.safetensors'), join(dir, 'adapter_model.safetensors'));
    const model = await loadModel(modelDir('llama'));
    await expect(model.loadAdapter(dir)).rejects.toThrow(/adapter_config\.json: use_dora true is not supported/);
    await expect(model.loadAdapter(modelDir('llama'))).rejects.toThrow(/adapter_config\.json: cannot be read/);
  });
});

describe('addLora', () => {
  it('initialises as torch.manual_seed(1234); get_peft_model(...) does, and saves what PEFT saves', async () => {
    const [model, ref] = await Promise.all([loadModel(modelDir('llama')), reference('peft-lora')]);
    await model.addLora({ r: 4, lora_alpha: 8, target_modules: ['all-linear'], seed: 1234 });
    const dir = tempDir('lora-save');
    await model.saveAdapter(dir);

    const ours = await readSafetensors(join(dir, 'adapter_model.safetensors'));
    const peft = await readSafetensors(join(modelDir('llama-lora'), 'adapter_model.safetensors'));
    expect(ours.metadata).toEqual(peft.metadata);
    expect([...ours.tensors.keys()].sort()).toEqual([...peft.tensors.keys()].sort());
    for (const [name, t] of ours.tensors) {
      expect(t.shape, name).toEqual(peft.tensors.get(name)!.shape);
      expect(t.dtype, name).toBe(peft.tensors.get(name)!.dtype);
      const init = ref(`init.${name.slice('base_model.model.'.length)}`).data as Float32Array;
      expect(maxAbsDiff(t.data as Float32Array, init, init.length), name).toBe(0);
    }

    const config = readJson(join(dir, 'adapter_config.json'));
    const expected = readJson(join(fixturesDir, 'reference', 'peft-lora-init', 'adapter_config.json'));
    expect(Object.keys(config).sort()).toEqual(Object.keys(expected).sort());
    expect({ ...config, base_model_name_or_path: null }).toEqual({ ...expected, base_model_name_or_path: null });
    expect(config.base_model_name_or_path).toBe(modelDir('llama'));
  });

  it("starts from the base model's logits (B = 0) and trains only the adapters", async () => {
    const { model, ref, mask } = await logitsWith(null);
    await model.addLora({ r: 2, target_modules: ALL_LINEAR });
    const out = await model.logits(ref('input_ids').data as Int32Array, mask, { seqLen: SEQ });
    expect(maxAbsDiff(out.data, ref('logits_base').data as Float32Array, VOCAB, mask)).toBeLessThanOrEqual(TOLERANCE);
    await model.forwardBackward([[5, 9, 11, 30, 4]]);
    const grads = await model.gradients();
    expect(grads.size).toBe(2 * 7 * 2);
    expect([...grads.keys()].every((n) => /\.lora_[AB]\.weight$/.test(n))).toBe(true);
  });

  it('names the field of a bad option', async () => {
    const model = await loadModel(modelDir('llama'));
    await expect(model.addLora({ target_modules: ['qproj'] })).rejects.toThrow(
      /lora_target_modules: 'qproj' names no linear layer/,
    );
    await expect(model.addLora({ r: 0 })).rejects.toThrow(/r must be a positive integer|lora_r/);
    await expect(model.addLora({ lora_dropout: 1 })).rejects.toThrow(/lora_dropout: expected a number in \[0, 1\)/);
  });
});

describe("DPO reference 'base'", () => {
  const batch = {
    inputIds: [
      [5, 9, 11, 30, 4, 2],
      [5, 9, 12, 40, 41, 42],
      [5, 9, 13, 31, 2, 2],
      [5, 9, 14, 44, 45, 2],
    ],
    attentionMask: [
      [1, 1, 1, 1, 1, 0],
      [1, 1, 1, 1, 1, 1],
      [1, 1, 1, 1, 0, 0],
      [1, 1, 1, 1, 1, 0],
    ],
    completionMask: [
      [0, 0, 1, 1, 1, 0],
      [0, 0, 1, 1, 1, 1],
      [0, 0, 1, 1, 0, 0],
      [0, 0, 1, 1, 1, 0],
    ],
  };

  it('is the policy with its adapters off: the same step as a separately loaded base model', async () => {
    const [policy, base] = await Promise.all([loadModel(modelDir('llama')), loadModel(modelDir('llama'))]);
    await policy.loadAdapter(modelDir('llama-lora'));
    const viaBase = await policy.dpoStep(batch, 'base', { backward: false });
    const viaModel = await policy.dpoStep(batch, base, { backward: false });
    expect(viaBase.loss).toBe(viaModel.loss);
    expect(viaBase.metrics).toEqual(viaModel.metrics);
    expect(Math.abs(viaBase.metrics['rewards/margins'])).toBeGreaterThan(1e-4);
    // The adapters are back on after the reference pass.
    const after = await policy.dpoStep(batch, base, { backward: false });
    expect(after.loss).toBe(viaModel.loss);
  });

  it('needs a policy with adapters', async () => {
    const model = await loadModel(modelDir('llama'));
    await expect(model.dpoStep(batch, 'base')).rejects.toThrow(/reference 'base' needs a policy with LoRA adapters/);
  });
});

describe('mergeAdapter', () => {
  it("writes the base with the adapter folded in, loading as a plain model that gives PeftModel's logits", async () => {
    const dir = tempDir('lora-merge');
    await mergeAdapter(modelDir('llama-lora'), dir);
    const [merged, ref] = await Promise.all([loadModel(dir), reference('peft-lora')]);
    expect(merged.config.lora).toBe(false);
    const mask = ref('attention_mask').data as Int32Array;
    const out = await merged.logits(ref('input_ids').data as Int32Array, mask, { seqLen: SEQ });
    expect(maxAbsDiff(out.data, ref('logits_lora').data as Float32Array, VOCAB, mask)).toBeLessThanOrEqual(TOLERANCE);
    expect(readdirSync(dir).sort()).toEqual([
      'config.json',
      'generation_config.json',
      'model.safetensors',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
    await expect(mergeAdapter(modelDir('llama'), tempDir('lora-merge-bad'))).rejects.toThrow(/no adapter_config\.json/);
  });
});

describe('lora_dropout', () => {
  // The checkpointed backward recomputes each layer: it must draw the forward's dropout masks again.
  it('under gradient checkpointing gives the gradients of the same masks without it', async () => {
    const batch = { inputIds: [[5, 9, 11, 30, 4, 7, 8, 12]], labels: [[-100, 9, 11, 30, 4, 7, 8, 12]] };
    const grads = async (gradient_checkpointing: boolean, lora_dropout: number) => {
      const model = await loadModel(modelDir('llama'));
      const adapter = tempDir('lora-dropout');
      for (const name of readdirSync(modelDir('llama-lora')))
        copyFileSync(join(modelDir('llama-lora'), name), join(adapter, name));
      const config = readJson(join(adapter, 'adapter_config.json'));
      writeFileSync(
        join(adapter, 'adapter_config.json'),
        JSON.stringify({ ...config, lora_dropout, base_model_name_or_path: modelDir('llama') }),
      );
      await model.loadAdapter(adapter);
      manualSeed(7);
      const { loss } = await model.sftStep(batch, { gradient_checkpointing });
      return { loss, grads: await model.gradients() };
    };
    const [plain, checkpointed, noDropout] = [await grads(false, 0.5), await grads(true, 0.5), await grads(false, 0)];
    expect(checkpointed.loss).toBe(plain.loss);
    expect(Math.abs(plain.loss - noDropout.loss)).toBeGreaterThan(1e-3);
    for (const [name, g] of plain.grads) {
      expect(maxAbsDiff(checkpointed.grads.get(name)!.data, g.data, g.data.length), name).toBeLessThanOrEqual(1e-6);
    }
  });
});
