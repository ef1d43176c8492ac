// The model families beyond Llama (issue 21) against transformers 5.18 (scripts/fixtures/make_families.py): logits
// on full, right- and left-padded rows, loss and every parameter's gradient, the fused log-prob kernel (with and
// without gradient checkpointing), greedy generation through the KV cache, the hub spelling of each config, save
// round trips, and LoRA on each family's own module names, against PEFT 0.21 (make_families_lora.py).
import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel, readSafetensors, type Model, type SafetensorsTensor } from '../../src/index.js';
import { expectGradients, fixturesDir, maxAbs, maxAbsDiff, modelDir, reference, tempDir } from '../helpers/fixtures.js';
import { FIXTURE_EOS, untilEos } from '../generate/reference.js';
import { parameterCount, readModelShape } from '../../src/estimate/model-shape.js';
import { loraTargets } from '../../src/train/peft.js';
import { train } from '../../src/train/train-from-config.js';

const TOLERANCE = 1e-4;
const VOCAB = 256;
const SEQ = 12;

const families = [
  ['granite', 'embedding/residual/attention multipliers, logits_scaling, tied'],
  ['olmo2', 'post-norm blocks, q/k norm over the whole projection'],
  ['smollm3', 'a NoPE layer (no_rope_layers), tied'],
  ['gemma2', '(1 + w) norms, GeGLU, sandwich norms, attention and final soft-caps, sliding window'],
  ['gemma3_text', 'per-head q/k norm, local/global RoPE with linear scaling, sliding window'],
  ['phi3', 'fused qkv_proj / gate_up_proj, partial rotary'],
  ['phi3-longrope', 'longrope: long factors past original_max_position_embeddings'],
] as const;

/** The LoRA targets each family's PEFT module names give (Phi-3's are fused). */
const LORA_TARGETS: Record<string, string[]> = {
  phi3: ['qkv_proj', 'gate_up_proj'],
  'phi3-longrope': ['qkv_proj', 'o_proj', 'gate_up_proj', 'down_proj'],
};

const hubFolder = (name: string): string =>
  (
    JSON.parse(readFileSync(join(fixturesDir, 'reference', 'families', 'families.json'), 'utf8')) as Record<
      string,
      { hub_folder: string }
    >
  )[name]!.hub_folder;

async function logitsOf(model: Model, ids: Int32Array, mask: Int32Array, seqLen = SEQ) {
  return (await model.logits(ids, mask, { seqLen })).data;
}

/** transformers' causal-LM loss on the batch (relative 1e-5) and every parameter's gradient (1e-4 of its scale). */
async function expectLossAndGradients(
  model: Model,
  r: Awaited<ReturnType<typeof reference>>,
  ids: Int32Array,
  mask: Int32Array,
  seqLen: number,
) {
  const loss = await model.forwardBackward(ids, mask, { seqLen });
  const expected = (r('loss').data as Float32Array)[0]!;
  expect(Math.abs(loss - expected) / expected).toBeLessThan(1e-5);
  await expectGradients(
    model,
    (param) => r(`grad.${param}`).data as Float32Array,
    (scale) => 1e-6 + 1e-4 * scale,
  );
}

describe.each(families)('%s (%s)', (name) => {
  const ref = () => reference(`families/${name}`);

  it('logits match transformers on full, right-padded and left-padded rows, from both config spellings', async () => {
    const r = await ref();
    const ids = r('input_ids').data as Int32Array;
    const mask = r('attention_mask').data as Int32Array;
    for (const dir of [modelDir(name), modelDir(hubFolder(name))]) {
      const model = await loadModel(dir);
      const diff = maxAbsDiff(await logitsOf(model, ids, mask), r('logits').data as Float32Array, VOCAB, mask);
      expect(diff, `${dir}: logits max abs diff`).toBeLessThanOrEqual(TOLERANCE);
      if (name === 'phi3-longrope') {
        // Eight positions stay within original_max_position_embeddings: the short factors.
        const shortMask = r('attention_mask_short').data as Int32Array;
        const short = await logitsOf(model, r('input_ids_short').data as Int32Array, shortMask, 8);
        expect(maxAbsDiff(short, r('logits_short').data as Float32Array, VOCAB, shortMask)).toBeLessThanOrEqual(
          TOLERANCE,
        );
      }
      await model.dispose();
    }
  });

  it('loss and every parameter gradient match PyTorch', async () => {
    const [model, r] = await Promise.all([loadModel(modelDir(name)), ref()]);
    await expectLossAndGradients(
      model,
      r,
      r('input_ids').data as Int32Array,
      r('attention_mask').data as Int32Array,
      SEQ,
    );
  });

  it("the fused log-prob kernel gives transformers' log-probs, and gradient checkpointing the same gradients", async () => {
    const [model, r] = await Promise.all([loadModel(modelDir(name)), ref()]);
    const ids = r('input_ids').data as Int32Array;
    const mask = r('attention_mask').data as Int32Array;
    const expected = completionLogps(r('logits').data as Float32Array, ids, mask);
    const plain = await model.completionLogProbs(ids, mask, mask, { seqLen: SEQ, backward: true });
    for (const [b, want] of expected.entries())
      expect(Math.abs(plain.logps[b]! - want), `row ${b}`).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(want)));
    const grads = await model.gradients();
    await model.zeroGrad();
    await model.completionLogProbs(ids, mask, mask, { seqLen: SEQ, backward: true, gradient_checkpointing: true });
    for (const [param, g] of await model.gradients())
      expect(maxAbsDiff(g.data, grads.get(param)!.data, g.data.length), param).toBeLessThanOrEqual(1e-6);
  });

  // phi3-longrope: transformers 5.18's Phi3ForCausalLM.prepare_inputs_for_generation drops the cache once the
  // sequence passes original_max_position_embeddings and then feeds the last token alone, at position 0, every step
  // (its cache reset never sees the earlier tokens again): its tokens from there on are not the model's. alignkit
  // keeps the cache, as the model's forward with a DynamicCache does; the tokens before the switch are compared.
  it('greedy generation through the KV cache equals transformers token for token', async () => {
    const [model, r] = await Promise.all([loadModel(modelDir(name)), ref()]);
    const ids = r('gen_input_ids').data as Int32Array;
    const mask = r('gen_attention_mask').data as Int32Array;
    const tokens = r('gen_tokens').data as Int32Array;
    const [rows, promptLen] = r('gen_input_ids').shape as [number, number];
    const total = tokens.length / rows;
    const prompts = [...Array(rows).keys()].map((i) =>
      Array.from(ids.subarray(i * promptLen, (i + 1) * promptLen)).filter((_, j) => mask[i * promptLen + j] === 1),
    );
    const out = await model.generateTokenIds(prompts, { max_new_tokens: total - promptLen });
    const expected = [...Array(rows).keys()].map((i) =>
      untilEos(Array.from(tokens.subarray(i * total + promptLen, (i + 1) * total)), [FIXTURE_EOS]),
    );
    // The forward producing new token k (k = 0 from the prefill) sees positions up to promptLen + k - 1.
    const beforeSwitch = name === 'phi3-longrope' ? 8 - promptLen + 1 : Infinity;
    expect(out.map((o) => o.tokenIds.slice(0, beforeSwitch))).toEqual(expected.map((e) => e.slice(0, beforeSwitch)));
  });

  it('saves a folder that loads back to the same logits, config.json as given', async () => {
    const r = await ref();
    const ids = r('input_ids').data as Int32Array;
    const mask = r('attention_mask').data as Int32Array;
    // The hub folder links its weights and tokenizer to the main folder's, which save() refuses to copy out: a copy.
    const hub = tempDir(`hub-${name}`);
    for (const file of ['config.json', 'model.safetensors', 'generation_config.json'])
      copyFileSync(join(modelDir(hubFolder(name)), file), join(hub, file));
    for (const dir of [modelDir(name), hub]) {
      const model = await loadModel(dir);
      const out = tempDir(`save-${name}`);
      await model.save(out);
      expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'))).toEqual(
        JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')),
      );
      const [saved, source] = await Promise.all([
        readSafetensors(join(out, 'model.safetensors')),
        readSafetensors(join(modelDir(name), 'model.safetensors')),
      ]);
      expect([...saved.tensors.keys()].sort()).toEqual([...source.tensors.keys()].sort());
      for (const [key, t] of source.tensors) expect(saved.tensors.get(key)!.data, key).toEqual(t.data);
      expect(maxAbsDiff(await logitsOf(await loadModel(out), ids, mask), await logitsOf(model, ids, mask), VOCAB)).toBe(
        0,
      );
    }
  });

  it("LoRA on the family's module names: adapters train, save under PEFT's names, and merge to the same logits", async () => {
    const r = await ref();
    const ids = r('input_ids').data as Int32Array;
    const mask = r('attention_mask').data as Int32Array;
    const model = await loadModel(modelDir(name));
    const targets = LORA_TARGETS[name] ?? ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];
    await model.addLora({ r: 4, lora_alpha: 8, target_modules: targets, seed: 7 });
    const base = await logitsOf(model, ids, mask);
    await model.forwardBackward(ids, mask, { seqLen: SEQ });
    const grads = [...(await model.gradients()).keys()];
    const layers = (
      JSON.parse(readFileSync(join(modelDir(name), 'config.json'), 'utf8')) as { num_hidden_layers: number }
    ).num_hidden_layers;
    expect(grads).toHaveLength(2 * targets.length * layers);
    for (const t of targets) expect(grads.some((g) => g.includes(`.${t}.lora_A`))).toBe(true);

    // B starts at zero: give it values through the adapter folder PEFT would load, then compare with the merge.
    const adapterDir = tempDir(`lora-${name}`);
    await model.saveAdapter(adapterDir);
    const config = JSON.parse(readFileSync(join(adapterDir, 'adapter_config.json'), 'utf8')) as {
      target_modules: string[];
    };
    expect([...config.target_modules].sort()).toEqual([...targets].sort());
    const { tensors } = await readSafetensors(join(adapterDir, 'adapter_model.safetensors'));
    for (const key of tensors.keys())
      expect(key).toMatch(/^base_model\.model\.model\.layers\.\d+\.(self_attn|mlp)\.\w+_proj\.lora_[AB]\.weight$/);
    writeNonZeroB(adapterDir, tensors);

    const adapted = await loadModel(modelDir(name));
    await adapted.loadAdapter(adapterDir);
    const withLora = await logitsOf(adapted, ids, mask);
    expect(maxAbsDiff(withLora, base, VOCAB, mask)).toBeGreaterThan(1e-3);
    await adapted.mergeLora();
    expect(maxAbsDiff(await logitsOf(adapted, ids, mask), withLora, VOCAB, mask)).toBeLessThanOrEqual(TOLERANCE);
  });
});

// PEFT's own adapters on each family (scripts/fixtures/make_families_lora.py): all-linear, Phi-3's fused modules.
// Mixtral and Qwen3-MoE: their attention projections (families-moe.test.ts has the rest of the MoE families).
describe.each(['granite', 'olmo2', 'smollm3', 'gemma2', 'gemma3_text', 'phi3', 'mixtral', 'qwen3_moe'])(
  '%s with a PEFT adapter',
  (name) => {
    it("gives PEFT's logits, loss and adapter gradients, and merges to merge_and_unload's weights", async () => {
      const [model, r] = await Promise.all([loadModel(modelDir(name)), reference(`families/${name}-lora`)]);
      await model.loadAdapter(modelDir(`${name}-lora`));
      const ids = r('input_ids').data as Int32Array;
      const mask = r('attention_mask').data as Int32Array;
      const logits = await logitsOf(model, ids, mask);
      expect(maxAbsDiff(logits, r('logits_lora').data as Float32Array, VOCAB, mask)).toBeLessThanOrEqual(TOLERANCE);

      const loss = await model.forwardBackward(ids, mask, { seqLen: SEQ });
      const expected = (r('loss').data as Float32Array)[0]!;
      expect(Math.abs(loss - expected) / expected).toBeLessThan(1e-5);
      const grads = await model.gradients();
      const { tensors } = await readSafetensors(join(fixturesDir, 'reference', 'families', `${name}-lora.safetensors`));
      const expectedGrads = [...tensors.keys()].filter((k) => k.startsWith('grad.'));
      expect([...grads.keys()].sort()).toEqual(expectedGrads.map((k) => k.slice('grad.'.length)).sort());
      for (const key of expectedGrads) {
        const want = tensors.get(key)!.data as Float32Array;
        const got = grads.get(key.slice('grad.'.length))!.data;
        expect(maxAbsDiff(got, want, want.length), key).toBeLessThanOrEqual(1e-6 + 1e-4 * maxAbs(want));
      }

      await model.mergeLora();
      expect(maxAbsDiff(await logitsOf(model, ids, mask), logits, VOCAB, mask)).toBeLessThanOrEqual(TOLERANCE);
      const dir = tempDir(`merged-${name}`);
      await model.save(dir);
      const saved = (await readSafetensors(join(dir, 'model.safetensors'))).tensors;
      const merged = [...tensors.keys()].filter((k) => k.startsWith('merged.'));
      expect(merged.length).toBeGreaterThan(0);
      for (const key of merged) {
        const want = tensors.get(key)!.data as Float32Array;
        const got = saved.get(key.slice('merged.'.length))!.data as Float32Array;
        expect(maxAbsDiff(got, want, want.length), key).toBeLessThanOrEqual(1e-6);
      }
    });
  },
);

// Options beside the main fixtures (scripts/fixtures/make_families_variants.py): biases under left padding (the query
// before a row's first token sees no key; the loss reads its logits), SmolLM3's sliding NoPE layers, Gemma 3's
// attn_logit_softcapping (which its attention ignores), Phi-3's sliding window, Gemma 2 without soft-caps.
describe.each([
  'granite-bias',
  'olmo2-bias',
  'smollm3-sliding',
  'gemma2-bias',
  'gemma2-nocap',
  'gemma3_text-caps',
  'phi3-sliding',
  'qwen2-left',
])('variant %s', (name) => {
  it('logits, loss, every gradient and greedy generation match transformers', async () => {
    const [model, r] = await Promise.all([
      loadModel(join(fixturesDir, 'models', 'variants', name)),
      reference(`families/variants/${name}`),
    ]);
    const seqLen = r('input_ids').shape[1]!;
    const ids = r('input_ids').data as Int32Array;
    const mask = r('attention_mask').data as Int32Array;
    const logits = await logitsOf(model, ids, mask, seqLen);
    expect(maxAbsDiff(logits, r('logits').data as Float32Array, VOCAB, mask)).toBeLessThanOrEqual(TOLERANCE);
    await expectLossAndGradients(model, r, ids, mask, seqLen);

    const genIds = r('gen_input_ids').data as Int32Array;
    const genMask = r('gen_attention_mask').data as Int32Array;
    const tokens = r('gen_tokens').data as Int32Array;
    const [rows, promptLen] = r('gen_input_ids').shape as [number, number];
    const total = tokens.length / rows;
    const prompts = [...Array(rows).keys()].map((i) =>
      Array.from(genIds.subarray(i * promptLen, (i + 1) * promptLen)).filter((_, j) => genMask[i * promptLen + j]),
    );
    const out = await model.generateTokenIds(prompts, { max_new_tokens: total - promptLen, eos_token_id: [1] });
    expect(out.map((o) => o.tokenIds)).toEqual(
      [...Array(rows).keys()].map((i) =>
        untilEos(Array.from(tokens.subarray(i * total + promptLen, (i + 1) * total)), [1]),
      ),
    );
  });
});

describe('family data outside the decoder', () => {
  it("the estimate's parameter count is the loaded model's, for every family", async () => {
    for (const [name] of families) {
      const model = await loadModel(modelDir(name));
      const loaded = model.parameters().reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
      expect(parameterCount(await readModelShape(modelDir(name))), name).toBe(loaded);
      expect(parameterCount(await readModelShape(modelDir(hubFolder(name)))), `${name} hub`).toBe(loaded);
    }
  });

  it("null lora_target_modules take PEFT 0.21's default for the model_type, and are refused where PEFT has none", () => {
    expect(loraTargets(null, 'gemma2')).toEqual(['q_proj', 'v_proj']);
    expect(loraTargets(null, 'gemma3_text')).toEqual(['q_proj', 'v_proj']);
    expect(loraTargets(['qkv_proj'], 'phi3')).toEqual(['qkv_proj']);
    for (const modelType of ['granite', 'olmo2', 'smollm3', 'phi3'])
      expect(() => loraTargets(null, modelType)).toThrow(/PEFT has no default LoRA targets for model_type/);
  });

  it('train() refuses use_peft without lora_target_modules on such a model before any work', async () => {
    const dir = tempDir('families-peft-refused');
    const run = train(
      {
        trainer: 'dpo',
        model_name_or_path: modelDir('phi3'),
        train_dataset: join(fixturesDir, 'trl', 'dpo-train.jsonl'),
        output_dir: join(dir, 'out'),
        use_peft: true,
        use_cpu: true,
        bf16: false,
      },
      { log: () => {} },
    );
    await expect(run).rejects.toThrow(/lora_target_modules: PEFT has no default LoRA targets for model_type phi3/);
    // Nothing tokenized or loaded: output_dir holds at most what claiming it leaves.
    expect(existsSync(join(dir, 'out')) ? readdirSync(join(dir, 'out')) : []).toEqual([]);
  });

  it('a multimodal gemma3 config is refused with the text model_type named', async () => {
    const dir = tempDir('gemma3');
    const config = JSON.parse(readFileSync(join(modelDir('gemma3_text'), 'config.json'), 'utf8'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, model_type: 'gemma3' }));
    copyFileSync(join(modelDir('gemma3_text'), 'model.safetensors'), join(dir, 'model.safetensors'));
    await expect(loadModel(dir)).rejects.toThrow(/unsupported model_type 'gemma3' .*gemma3_text/);
  });
});

/** TRL's per-row sum of log_softmax(logits[:, :-1]) at input_ids[:, 1:] where mask[:, 1:] is 1. */
function completionLogps(logits: Float32Array, ids: Int32Array, mask: Int32Array): number[] {
  const rows = ids.length / SEQ;
  return [...Array(rows).keys()].map((b) => {
    let sum = 0;
    for (let t = 0; t + 1 < SEQ; t++) {
      if (!mask[b * SEQ + t + 1]) continue;
      const row = logits.subarray((b * SEQ + t) * VOCAB, (b * SEQ + t + 1) * VOCAB);
      const max = row.reduce((m, v) => Math.max(m, v), -Infinity);
      const lse = max + Math.log(row.reduce((acc, v) => acc + Math.exp(v - max), 0));
      sum += row[ids[b * SEQ + t + 1]!]! - lse;
    }
    return sum;
  });
}

/** Rewrites adapter_model.safetensors with every lora_B filled with a small deterministic pattern. */
function writeNonZeroB(dir: string, tensors: Map<string, SafetensorsTensor>) {
  const entries = [...tensors.entries()];
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  const buffers: Buffer[] = [];
  for (const [key, t] of entries) {
    const values = Float32Array.from(t.data as Float32Array, (v, i) =>
      key.includes('lora_B') ? 0.05 * Math.sin(i + key.length) : v,
    );
    const bytes = Buffer.from(values.buffer);
    header[key] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    offset += bytes.length;
    buffers.push(bytes);
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const size = Buffer.alloc(8);
  size.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(join(dir, 'adapter_model.safetensors'), Buffer.concat([size, Buffer.from(json), ...buffers]));
}
