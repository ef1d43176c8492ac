// The Mixture-of-Experts families (issue 21) against transformers 5.18 (scripts/fixtures/make_families.py): Mixtral
// and Qwen3-MoE (with a dense layer from mlp_only_layers). Logits on full, right- and left-padded rows from both
// config spellings, loss and every parameter's gradient (transformers holds the experts fused in memory:
// gate_up_proj [E, 2I, H], down_proj [E, H, I]; the checkpoint and alignkit per expert, hub names), the router's
// load-balancing loss (output_router_logits) with and without gradient checkpointing, greedy generation through the
// KV cache, save round trips, LoRA on the attention projections, and PEFT 0.21's all-linear LoRA on the router and
// the experts (target_parameters; scripts/fixtures/make_families_moe_lora.py).
import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel, readSafetensors, type Model } from '../../src/index.js';
import { fixturesDir, maxAbs, maxAbsDiff, modelDir, reference, tempDir } from '../helpers/fixtures.js';
import { FIXTURE_EOS, untilEos } from '../generate/reference.js';
import { parameterCount, readModelShape } from '../../src/estimate/model-shape.js';
import { loraParameters } from '../../src/estimate/memory-plan.js';
import { loraTargets } from '../../src/train/peft.js';
import { train } from '../../src/train/train-from-config.js';

const TOLERANCE = 1e-4;
const VOCAB = 256;
const SEQ = 12;

interface MoeNames {
  /** The module holding router and experts under each layer, in the checkpoint. */
  block: string;
  /** Each expert's gate, up and down projection in the checkpoint. */
  gate: string;
  up: string;
  down: string;
}

const families: [string, MoeNames][] = [
  ['mixtral', { block: 'block_sparse_moe', gate: 'w1', up: 'w3', down: 'w2' }],
  ['qwen3_moe', { block: 'mlp', gate: 'gate_proj', up: 'up_proj', down: 'down_proj' }],
];

const configOf = (name: string) =>
  JSON.parse(readFileSync(join(modelDir(name), 'config.json'), 'utf8')) as {
    router_aux_loss_coef: number;
    num_hidden_layers: number;
  };

/**
 * transformers' gradient for one of alignkit's parameters: experts are slices of the fused in-memory tensors
 * (gate_up_proj[e] = [gate; up], down_proj[e]), the router is mlp.gate.
 */
function expectedGradient(r: (name: string) => { data: unknown; shape: number[] }, param: string, n: MoeNames) {
  const expert = new RegExp(`^(model\\.layers\\.\\d+)\\.${n.block}\\.experts\\.(\\d+)\\.(\\w+)\\.weight$`).exec(param);
  if (expert) {
    const [, layer, e, proj] = expert;
    const fused = r(`grad.${layer}.mlp.experts.${proj === n.down ? 'down_proj' : 'gate_up_proj'}`);
    const [, rows, cols] = fused.shape as [number, number, number];
    const all = fused.data as Float32Array;
    const start = Number(e) * rows * cols;
    if (proj === n.down) return all.subarray(start, start + rows * cols);
    const half = (rows / 2) * cols;
    return proj === n.gate ? all.subarray(start, start + half) : all.subarray(start + half, start + 2 * half);
  }
  const router = new RegExp(`^(model\\.layers\\.\\d+)\\.${n.block}\\.gate\\.weight$`).exec(param);
  return r(`grad.${router ? `${router[1]}.mlp.gate.weight` : param}`).data as Float32Array;
}

async function logitsOf(model: Model, ids: Int32Array, mask: Int32Array) {
  return (await model.logits(ids, mask, { seqLen: SEQ })).data;
}

describe.each(families)('%s', (name, names) => {
  const ref = () => reference(`families/${name}`);

  it('logits match transformers on full, right-padded and left-padded rows, from both config spellings', async () => {
    const r = await ref();
    const ids = r('input_ids').data as Int32Array;
    const mask = r('attention_mask').data as Int32Array;
    for (const dir of [modelDir(name), modelDir(`${name}-hub`)]) {
      const model = await loadModel(dir);
      const diff = maxAbsDiff(await logitsOf(model, ids, mask), r('logits').data as Float32Array, VOCAB, mask);
      expect(diff, `${dir}: logits max abs diff`).toBeLessThanOrEqual(TOLERANCE);
      await model.dispose();
    }
  });

  it('loss and every parameter gradient (router and each expert) match PyTorch', async () => {
    const [model, r] = await Promise.all([loadModel(modelDir(name)), ref()]);
    const loss = await model.forwardBackward(
      r('input_ids').data as Int32Array,
      r('attention_mask').data as Int32Array,
      {
        seqLen: SEQ,
      },
    );
    const expected = (r('loss').data as Float32Array)[0]!;
    expect(Math.abs(loss - expected) / expected).toBeLessThan(1e-5);
    const grads = await model.gradients();
    expect([...grads.keys()].some((p) => p.includes(`.${names.block}.experts.3.${names.up}.`))).toBe(true);
    for (const [param, grad] of grads) {
      const want = expectedGradient(r, param, names);
      expect(want.length, param).toBe(grad.data.length);
      expect(maxAbsDiff(grad.data, want, want.length), param).toBeLessThanOrEqual(1e-6 + 1e-4 * maxAbs(want));
    }
  });

  it("with router_aux_loss_coef the SFT loss is transformers' loss + coef · aux_loss, checkpointed or not", async () => {
    const [model, r] = await Promise.all([loadModel(modelDir(name)), ref()]);
    const batch = {
      inputIds: r('input_ids').data as Int32Array,
      attentionMask: r('attention_mask').data as Int32Array,
      labels: r('labels').data as Int32Array,
      seqLen: SEQ,
    };
    const coef = configOf(name).router_aux_loss_coef;
    const plain = await model.sftStep(batch, { router_aux_loss_coef: coef, loss_type: 'nll' });
    const withAux = (r('loss_with_aux').data as Float32Array)[0]!;
    expect(Math.abs(plain.loss - withAux) / withAux).toBeLessThan(1e-5);
    const aux = (r('aux_loss').data as Float32Array)[0]!;
    expect(Math.abs(plain.metrics.aux_loss! - aux) / aux).toBeLessThan(1e-5);
    // The aux loss's gradient reaches the router: without it the router's gradient differs.
    const grads = await model.gradients();
    await model.zeroGrad();
    await model.sftStep(batch, { router_aux_loss_coef: coef, loss_type: 'nll', gradient_checkpointing: true });
    for (const [param, g] of await model.gradients())
      expect(maxAbsDiff(g.data, grads.get(param)!.data, g.data.length), param).toBeLessThanOrEqual(1e-6);
    await model.zeroGrad();
    const none = await model.sftStep(batch, { router_aux_loss_coef: 0, loss_type: 'nll' });
    expect(none.metrics.aux_loss).toBeUndefined();
    const router = [...grads.keys()].find((p) => p.endsWith(`.${names.block}.gate.weight`))!;
    const withoutAux = (await model.gradients()).get(router)!.data;
    expect(maxAbsDiff(withoutAux, grads.get(router)!.data, withoutAux.length)).toBeGreaterThan(1e-7);
  });

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
    expect(out.map((o) => o.tokenIds)).toEqual(
      [...Array(rows).keys()].map((i) =>
        untilEos(Array.from(tokens.subarray(i * total + promptLen, (i + 1) * total)), [FIXTURE_EOS]),
      ),
    );
  });

  it('saves a folder in the hub layout that loads back to the same logits, config.json as given', async () => {
    const r = await ref();
    const ids = r('input_ids').data as Int32Array;
    const mask = r('attention_mask').data as Int32Array;
    const hub = tempDir(`hub-${name}`);
    for (const file of ['config.json', 'model.safetensors', 'generation_config.json'])
      copyFileSync(join(modelDir(`${name}-hub`), file), join(hub, file));
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

  it('LoRA on the attention projections trains the adapters, saves and merges', async () => {
    const r = await ref();
    const ids = r('input_ids').data as Int32Array;
    const mask = r('attention_mask').data as Int32Array;
    const layers = configOf(name).num_hidden_layers;
    const model = await loadModel(modelDir(name));
    const targets = ['q_proj', 'k_proj', 'v_proj', 'o_proj'];
    await model.addLora({ r: 4, lora_alpha: 8, target_modules: targets, seed: 7 });
    await model.forwardBackward(ids, mask, { seqLen: SEQ });
    expect([...(await model.gradients()).keys()]).toHaveLength(2 * targets.length * layers);
    const adapterDir = tempDir(`lora-${name}`);
    await model.saveAdapter(adapterDir);
    const adapted = await loadModel(modelDir(name));
    await adapted.loadAdapter(adapterDir);
    const withLora = await logitsOf(adapted, ids, mask);
    await adapted.mergeLora();
    expect(maxAbsDiff(await logitsOf(adapted, ids, mask), withLora, VOCAB, mask)).toBeLessThanOrEqual(TOLERANCE);
  });

  it('all-linear adapts the attention, the router and the experts as PEFT 0.21 does; lora_dropout > 0 is refused', async () => {
    const r = await ref();
    const ids = r('input_ids').data as Int32Array;
    const mask = r('attention_mask').data as Int32Array;
    const layers = configOf(name).num_hidden_layers;
    const moeLayers = name === 'qwen3_moe' ? layers - 1 : layers; // the fixture's mlp_only_layers: [1]
    const model = await loadModel(modelDir(name));
    await model.addLora({ r: 4, lora_alpha: 8, target_modules: ['all-linear'], seed: 7 });
    await model.forwardBackward(ids, mask, { seqLen: SEQ });
    const grads = await model.gradients();
    // q/k/v/o everywhere (a dense layer's MLP too is left out, as PEFT leaves it), router + two expert wrappers.
    expect([...grads.keys()]).toHaveLength(2 * (4 * layers + 3 * moeLayers));
    for (const key of ['mlp.gate.lora_A.weight', 'mlp.experts.base_layer.lora_B.weight', 'mlp.experts.lora_A.weight'])
      expect(grads.has(`model.layers.0.${key}`), key).toBe(true);
    const adapterSize = [...grads.values()].reduce((n, g) => n + g.data.length, 0);
    expect(loraParameters(await readModelShape(modelDir(name)), { r: 4, targets: ['all-linear'] })).toBe(adapterSize);
    // Seeded as torch.manual_seed(7); get_peft_model(...) draws them (make_families_moe_lora.py's init.*).
    const fresh = tempDir(`moe-all-linear-${name}`);
    await model.saveAdapter(fresh);
    const [saved, { tensors }] = await Promise.all([
      readSafetensors(join(fresh, 'adapter_model.safetensors')),
      readSafetensors(join(fixturesDir, 'reference', 'families', `${name}-lora-experts.safetensors`)),
    ]);
    const init = [...tensors.keys()].filter((k) => k.startsWith('init.'));
    expect(init).toHaveLength(grads.size / 2);
    for (const key of init)
      expect(saved.tensors.get(`base_model.model.${key.slice('init.'.length)}`)!.data, key).toEqual(
        tensors.get(key)!.data,
      );

    const dropout = await loadModel(modelDir(name));
    await expect(
      dropout.addLora({ r: 4, lora_alpha: 8, lora_dropout: 0.05, target_modules: ['all-linear'] }),
    ).rejects.toThrow(/lora_dropout: .*ParamWrapper does not work with lora_dropout != 0/);
  });

  it("the estimate's parameter count is the loaded model's, from both config spellings", async () => {
    const model = await loadModel(modelDir(name));
    const loaded = model.parameters().reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
    expect(parameterCount(await readModelShape(modelDir(name)))).toBe(loaded);
    expect(parameterCount(await readModelShape(modelDir(`${name}-hub`)))).toBe(loaded);
  });
});

// Options beside the main fixtures (scripts/fixtures/make_families_moe_variants.py): Qwen3-MoE without norm_topk_prob,
// with decoder_sparse_step, attention biases, head_dim ≠ hidden/heads, a sliding window, tied embeddings; Mixtral with
// top-1 and top-3 routing and a sliding window; OLMoE (q/k norm over the projections), plain and with norm_topk_prob
// and biases. transformers' loss and gradients there include the aux loss.
describe.each([
  ['qwen3_moe-sparse-step', families[1]![1]],
  ['qwen3_moe-sliding', families[1]![1]],
  ['mixtral-top1-sliding', families[0]![1]],
  ['mixtral-top3', families[0]![1]],
  ['olmoe', families[1]![1]],
  ['olmoe-norm-bias', families[1]![1]],
] as const)('variant %s', (name, names) => {
  it('logits, loss with the aux loss, every gradient and greedy generation match transformers', async () => {
    const dir = join(fixturesDir, 'models', 'moe-variants', name);
    const [model, r] = await Promise.all([loadModel(dir), reference(`families/moe-variants/${name}`)]);
    const seqLen = r('input_ids').shape[1]!;
    const ids = r('input_ids').data as Int32Array;
    const mask = r('attention_mask').data as Int32Array;
    const logits = (await model.logits(ids, mask, { seqLen })).data;
    expect(maxAbsDiff(logits, r('logits').data as Float32Array, VOCAB, mask)).toBeLessThanOrEqual(TOLERANCE);
    const loaded = model.parameters().reduce((n, p) => n + p.shape.reduce((x, y) => x * y, 1), 0);
    expect(parameterCount(await readModelShape(dir)), "the estimate's parameter count").toBe(loaded);

    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as {
      router_aux_loss_coef: number;
      output_router_logits: boolean;
    };
    const coef = config.router_aux_loss_coef;
    const loss = (r('loss').data as Float32Array)[0]!;
    if (config.output_router_logits) {
      // config.json's output_router_logits: transformers' own forward with labels adds coef · aux_loss.
      const own = await model.forwardBackward(ids, mask, { seqLen });
      expect(Math.abs(own - loss) / loss).toBeLessThan(1e-5);
      await model.zeroGrad();
    }
    const labels = ids.map((id, i) => (mask[i] ? id : -100));
    const step = await model.sftStep(
      { inputIds: ids, attentionMask: mask, labels, seqLen },
      { router_aux_loss_coef: coef, loss_type: 'nll' },
    );
    expect(Math.abs(step.loss - loss) / loss).toBeLessThan(1e-5);
    const aux = (r('aux_loss').data as Float32Array)[0]!;
    expect(Math.abs(step.metrics.aux_loss! - aux) / aux).toBeLessThan(1e-5);
    for (const [param, grad] of await model.gradients()) {
      const want = expectedGradient(r, param, names);
      expect(maxAbsDiff(grad.data, want, want.length), param).toBeLessThanOrEqual(1e-6 + 1e-4 * maxAbs(want));
    }

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

// PEFT 0.21's own all-linear adapters (scripts/fixtures/make_families_moe_lora.py): the attention projections, the
// router (mlp.gate) and the fused experts through target_parameters (lora.ParamWrapper; gate_up_proj at 2r, 2α).
describe.each(['mixtral', 'qwen3_moe'])('%s with a PEFT all-linear adapter on the experts', (name) => {
  const adapterDir = () => modelDir(`${name}-lora-experts`);
  const fixture = () => readSafetensors(join(fixturesDir, 'reference', 'families', `${name}-lora-experts.safetensors`));

  it("gives PEFT's logits, loss and every adapter gradient, saves PEFT's files, and merges to merge_and_unload's weights", async () => {
    const [model, { tensors }] = await Promise.all([loadModel(modelDir(name)), fixture()]);
    await model.loadAdapter(adapterDir());
    const ids = tensors.get('input_ids')!.data as Int32Array;
    const mask = tensors.get('attention_mask')!.data as Int32Array;
    const logits = await logitsOf(model, ids, mask);
    expect(maxAbsDiff(logits, tensors.get('logits_lora')!.data as Float32Array, VOCAB, mask)).toBeLessThanOrEqual(
      TOLERANCE,
    );

    const loss = await model.forwardBackward(ids, mask, { seqLen: SEQ });
    const expected = (tensors.get('loss')!.data as Float32Array)[0]!;
    expect(Math.abs(loss - expected) / expected).toBeLessThan(1e-5);
    const grads = await model.gradients();
    const expectedGrads = [...tensors.keys()].filter((k) => k.startsWith('grad.'));
    expect(expectedGrads.some((k) => k.includes('.mlp.experts.base_layer.lora_A'))).toBe(true);
    expect([...grads.keys()].sort()).toEqual(expectedGrads.map((k) => k.slice('grad.'.length)).sort());
    for (const key of expectedGrads) {
      const want = tensors.get(key)!.data as Float32Array;
      const got = grads.get(key.slice('grad.'.length))!.data;
      expect(maxAbsDiff(got, want, want.length), key).toBeLessThanOrEqual(1e-6 + 1e-4 * maxAbs(want));
    }

    // Saved as PEFT saves it: the same tensor names and shapes, the same adapter_config.json keys and LoRA fields.
    const saved = tempDir(`moe-lora-experts-${name}`);
    await model.saveAdapter(saved);
    const [ours, peft] = await Promise.all(
      [saved, adapterDir()].map((d) => readSafetensors(join(d, 'adapter_model.safetensors'))),
    );
    const shapes = (t: Map<string, { shape: number[] }>) => [...t].map(([k, v]) => [k, v.shape]).sort();
    expect(shapes(ours!.tensors)).toEqual(shapes(peft!.tensors));
    const config = (d: string) =>
      JSON.parse(readFileSync(join(d, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    const [ourConfig, peftConfig] = [config(saved), config(adapterDir())];
    expect(Object.keys(ourConfig).sort()).toEqual(Object.keys(peftConfig).sort());
    for (const key of [
      'r',
      'lora_alpha',
      'lora_dropout',
      'target_modules',
      'target_parameters',
      'rank_pattern',
      'alpha_pattern',
    ])
      expect(ourConfig[key], key).toEqual(peftConfig[key]);
    const reloaded = await loadModel(modelDir(name));
    await reloaded.loadAdapter(saved);
    expect(maxAbsDiff(await logitsOf(reloaded, ids, mask), logits, VOCAB, mask)).toBe(0);

    await model.mergeLora();
    expect(maxAbsDiff(await logitsOf(model, ids, mask), logits, VOCAB, mask)).toBeLessThanOrEqual(TOLERANCE);
    const out = tempDir(`moe-lora-experts-merged-${name}`);
    await model.save(out);
    const weights = (await readSafetensors(join(out, 'model.safetensors'))).tensors;
    const merged = [...tensors.keys()].filter((k) => k.startsWith('merged.'));
    expect(merged.some((k) => /\.experts\.\d+\./.test(k))).toBe(true);
    for (const key of merged) {
      const want = tensors.get(key)!.data as Float32Array;
      const got = weights.get(key.slice('merged.'.length))!.data as Float32Array;
      expect(maxAbsDiff(got, want, want.length), key).toBeLessThanOrEqual(1e-6);
    }
  });
});

describe('MoE configuration', () => {
  it("null lora_target_modules take PEFT 0.21's default for mixtral, and are refused for qwen3_moe", () => {
    expect(loraTargets(null, 'mixtral')).toEqual(['q_proj', 'v_proj']);
    expect(() => loraTargets(null, 'qwen3_moe')).toThrow(/PEFT has no default LoRA targets for model_type/);
  });

  it('train() refuses use_peft with all-linear and lora_dropout > 0 on a MoE model before any work', async () => {
    const dir = tempDir('moe-all-linear');
    const run = train(
      {
        trainer: 'sft',
        model_name_or_path: modelDir('qwen3_moe'),
        train_dataset: join(fixturesDir, 'trl', 'dpo-train.jsonl'),
        output_dir: join(dir, 'out'),
        use_peft: true,
        lora_target_modules: ['all-linear'],
        use_cpu: true,
        bf16: false,
      },
      { log: () => {} },
    );
    await expect(run).rejects.toThrow(
      /lora_dropout: 0\.05 with lora_target_modules all-linear on a Mixture-of-Experts model \(qwen3_moe\).*ParamWrapper/,
    );
    expect(existsSync(join(dir, 'out')) ? readdirSync(join(dir, 'out')) : []).toEqual([]);
  });

  it('train() with all-linear and lora_dropout 0 trains the experts and saves the adapter as PEFT does', async () => {
    const dir = tempDir('moe-all-linear-train');
    await train(
      {
        trainer: 'dpo',
        model_name_or_path: modelDir('mixtral'),
        train_dataset: join(fixturesDir, 'trl', 'dpo-train.jsonl'),
        output_dir: join(dir, 'out'),
        use_peft: true,
        lora_target_modules: ['all-linear'],
        lora_dropout: 0,
        max_steps: 1,
        per_device_train_batch_size: 2,
        report_to: 'none',
        use_cpu: true,
        bf16: false,
      },
      { log: () => {} },
    );
    const saved = JSON.parse(readFileSync(join(dir, 'out', 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    expect(saved.target_parameters).toEqual(['down_proj', 'gate.weight', 'gate_up_proj']);
    expect(saved.rank_pattern).toEqual({ '.*\\.gate_up_proj': 32 });
    expect(saved.alpha_pattern).toEqual({ '.*\\.gate_up_proj': 64 });
    const { tensors } = await readSafetensors(join(dir, 'out', 'adapter_model.safetensors'));
    const b = tensors.get('base_model.model.model.layers.0.mlp.experts.base_layer.lora_B.weight')!;
    expect(b.shape).toEqual([128, 32 * 4]);
    expect(maxAbs(b.data as Float32Array)).toBeGreaterThan(0); // B starts at zero: one step moved it
  });

  it("an adapter whose rank_pattern or alpha_pattern is not all-linear's gate_up_proj one is refused by name", async () => {
    for (const key of ['rank_pattern', 'alpha_pattern']) {
      const dir = tempDir(`moe-${key}`);
      const source = modelDir('mixtral-lora-experts');
      const config = JSON.parse(readFileSync(join(source, 'adapter_config.json'), 'utf8'));
      config.base_model_name_or_path = modelDir('mixtral');
      writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify({ ...config, [key]: { '.*\\.down_proj': 8 } }));
      copyFileSync(join(source, 'adapter_model.safetensors'), join(dir, 'adapter_model.safetensors'));
      const model = await loadModel(modelDir('mixtral'));
      await expect(model.loadAdapter(dir)).rejects.toThrow(new RegExp(`${key} .* is not supported`));
    }
  });

  it("Mixtral's router_jitter_noise is refused by name", async () => {
    const dir = tempDir('mixtral-jitter');
    const config = JSON.parse(readFileSync(join(modelDir('mixtral'), 'config.json'), 'utf8'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, router_jitter_noise: 0.1 }));
    copyFileSync(join(modelDir('mixtral'), 'model.safetensors'), join(dir, 'model.safetensors'));
    await expect(loadModel(dir)).rejects.toThrow(/router_jitter_noise 0\.1 is not supported/);
  });
});
