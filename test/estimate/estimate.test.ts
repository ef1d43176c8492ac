// `alignkit estimate` (src/estimate): the plan's parts against exact byte counts from the fixture models' own
// safetensors (parameters x bytes, LoRA adapters), the reference/precompute/ZeRO/LoRA rules, the activations
// autograd saves (LoRA, partial checkpointing), the estimate against the peak RSS scripts/estimate/measure-peak.mjs
// measured for DPO, KTO and SFT at three shapes (test/fixtures/estimate/measured-*.json), the options that would
// make a plan fit (partial checkpointing among them), and the CLI (dist/).
import { spawnSync } from 'node:child_process';
import { openSync, readdirSync, readFileSync, readSync, closeSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/load-config.js';
import { estimateConfig, planSettings } from '../../src/estimate/estimate-config.js';
import { fitOptions, partialCheckpointing } from '../../src/estimate/fit-advice.js';
import { wontFitLine } from '../../src/estimate/format-estimate.js';
import {
  checkpointedLayerCount,
  loraParameters,
  memoryPlan,
  type PlanSettings,
} from '../../src/estimate/memory-plan.js';
import { parameterCount, readModelShape, type ModelShape } from '../../src/estimate/model-shape.js';
import { fixturesDir, modelDir, tempDir } from '../helpers/fixtures.js';

const cli = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');
const alignkit = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

/** The element count of every tensor in a safetensors file, from its header (no weights read). */
function headerShapes(path: string): Record<string, number> {
  const fd = openSync(path, 'r');
  try {
    const length = Buffer.alloc(8);
    readSync(fd, length, 0, 8, 0);
    const header = Buffer.alloc(Number(length.readBigUInt64LE()));
    readSync(fd, header, 0, header.length, 8);
    const entries = Object.entries(JSON.parse(header.toString('utf8')) as Record<string, { shape?: number[] }>);
    return Object.fromEntries(
      entries
        .filter(([name]) => name !== '__metadata__')
        .map(([name, t]) => [name, t.shape!.reduce((a, b) => a * b, 1)]),
    );
  } finally {
    closeSync(fd);
  }
}
const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

const base: PlanSettings = {
  trainer: 'dpo',
  weightDtype: 'float32',
  bf16: false,
  gradientCheckpointing: false,
  checkpointEveryNLayers: 1,
  activationMemoryBudget: null,
  batchSize: 2,
  maxLength: 64,
  lora: null,
  reference: 'copy',
  referenceDtype: null,
  precomputeRefLogProbs: false,
  zeroStage: 0,
  worldSize: 1,
  bucketBytes: 25 * 2 ** 20,
  device: 'cpu',
};

describe('model shape and parameter count', () => {
  // llama (untied), llama3-tied, qwen2 (q/k/v biases, tied), qwen3 (q/k norms), mistral.
  it.each(['llama', 'llama3-tied', 'qwen2', 'qwen3', 'mistral'])(
    '%s: config.json gives the exact count',
    async (name) => {
      const shape = await readModelShape(modelDir(name));
      expect(parameterCount(shape)).toBe(total(headerShapes(join(modelDir(name), 'model.safetensors'))));
    },
  );

  it("an adapter folder is measured on its base; LoRA's trainable count is the adapter file's", async () => {
    const shape = await readModelShape(modelDir('llama-lora'));
    expect(shape).toEqual(await readModelShape(modelDir('llama')));
    const adapter = JSON.parse(readFileSync(join(modelDir('llama-lora'), 'adapter_config.json'), 'utf8')) as {
      r: number;
      target_modules: string[];
    };
    const modules = [...new Set(adapter.target_modules.map((m) => m.slice(m.lastIndexOf('.') + 1)))];
    const counts = headerShapes(join(modelDir('llama-lora'), 'adapter_model.safetensors'));
    // The fixture adapts the same modules of some layers: r x (in + out) for each module of each adapted layer.
    const layers = new Set(adapter.target_modules.map((m) => /layers\.(\d+)\./.exec(m)![1])).size;
    expect(adapter.target_modules.length).toBe(layers * modules.length);
    const perLayer = loraParameters({ ...shape, numLayers: 1 }, { r: adapter.r, targets: modules });
    expect(perLayer * layers).toBe(total(counts));
  });
});

interface MeasuredRow {
  shape: string;
  trainer: string;
  setting: string;
  measuredMiB: number;
  modelShape: ModelShape;
  config: Record<string, unknown>;
}

describe('memory plan', () => {
  const dir = tempDir('alignkit-estimate-plan-');
  let shape: ModelShape;
  const plan = async (s: Partial<PlanSettings>) => {
    shape ??= await readModelShape(modelDir('llama'));
    return memoryPlan(shape, { ...base, ...s });
  };

  it('weights, gradients, AdamW state and reference are parameters x bytes', async () => {
    const p = await plan({});
    const params = parameterCount(shape);
    expect(p.weights).toBe(params * 4);
    expect(p.gradients).toBe(params * 4);
    expect(p.optimizer).toBe(2 * params * 4);
    expect(p.reference).toBe(params * 4);
    const bf16 = await plan({ weightDtype: 'bfloat16' });
    expect([bf16.weights, bf16.gradients, bf16.optimizer, bf16.reference]).toEqual([
      params * 2,
      params * 2,
      4 * params,
      params * 2,
    ]);
    // ZeRO-1 over 4 ranks: a quarter of AdamW's state on each.
    expect((await plan({ zeroStage: 1, worldSize: 4 })).optimizer).toBe((2 * params * 4) / 4);
    expect((await plan({ trainer: 'sft', reference: 'none' })).reference).toBe(0);
  });

  it("LoRA trains only the adapters; the reference is the base ('base'), no copy", async () => {
    const p = await plan({ lora: { r: 8, targets: ['all-linear'], dropout: 0 }, reference: 'base' });
    const adapters = loraParameters(shape, { r: 8, targets: ['all-linear'] });
    expect(p.trainableParameters).toBe(adapters);
    expect(p.weights).toBe((parameterCount(shape) + adapters) * 4);
    expect(p.gradients).toBe(adapters * 4);
    expect(p.optimizer).toBe(2 * adapters * 4);
    expect(p.reference).toBe(0);
  });

  it("a tied embedding's two gradients exist together at the end of backward", async () => {
    const tied = { ...(await readModelShape(modelDir('llama3-tied'))), vocabSize: 1_000_000 };
    const p = memoryPlan(tied, { ...base, batchSize: 1, maxLength: 1 });
    const embedding = tied.vocabSize * tied.hiddenSize * 4;
    expect(p.total).toBe(p.runtime + p.weights + p.optimizer + p.reference + p.gradients + embedding);
    const untied = memoryPlan({ ...tied, tieWordEmbeddings: false }, { ...base, batchSize: 1, maxLength: 1 });
    expect(untied.total).toBe(untied.runtime + untied.weights + untied.optimizer + untied.reference + untied.gradients);
  });

  it('loading: the policy, its AdamW states, the reference and the file being read (its mapped pages)', async () => {
    const params = parameterCount(shape ?? (await readModelShape(modelDir('llama'))));
    const p = await plan({});
    // weights + AdamW's two states (made with the optimizer) + reference + the reference's file, float32.
    expect(p.loading).toBe(p.runtime + 5 * params * 4);
    // SFT: the policy's file while it loads, before its optimizer exists.
    expect((await plan({ trainer: 'sft', reference: 'none' })).loading).toBe(p.runtime + 2 * params * 4);
    expect((await plan({ device: 'cuda' })).loading).toBe(0);
  });

  it('precompute_ref_log_probs frees the reference before step 1', async () => {
    const p = await plan({ precomputeRefLogProbs: true });
    expect(p.reference).toBe(0);
    expect(p.referenceFreedAfterPrecompute).toBe(parameterCount(shape) * 4);
    expect(p.total).toBeLessThan((await plan({})).total);
  });

  it('activations: what each layer saves, per token; checkpointing keeps layer inputs', async () => {
    const p = await plan({});
    const { hiddenSize: h, intermediateSize: i, numHeads, headDim, numLayers } = shape;
    const q = numHeads * headDim;
    // fp32: fused norm + q/k/v keeps x; SDPA q, k, v (expanded), out and the mask's float copy (T per token); fused
    // norm + gate/up keeps x; gate, up.
    const layer = 4 * h + 4 * (4 * q + 64) + 4 * h + 8 * i;
    expect(p.layerSaved.reduce((n, t) => n + t.bytesPerToken, 0)).toBe(layer);
    expect(p.tokens).toBe(2 * 2 * 64); // DPO: chosen and rejected of 2 pairs
    expect(p.activations.withoutCheckpointing).toBe(p.tokens * layer * numLayers);
    expect(p.activations.withCheckpointing).toBe(p.tokens * 4 * h * numLayers);
    expect(p.activations.planned).toBe(p.activations.withoutCheckpointing);
    // The fused kernel never makes the (tokens, vocab) float32 logits and log-softmax.
    expect(p.logitsAvoided).toBe(p.tokens * shape.vocabSize * 8);
    expect((await plan({ trainer: 'sft', reference: 'none' })).tokens).toBe(2 * 64);
  });

  it('every_n_layers and activation_memory_budget checkpoint part of the layers', async () => {
    const layers = 24;
    const count = (s: Partial<PlanSettings>) =>
      checkpointedLayerCount({ ...base, gradientCheckpointing: true, ...s }, layers);
    expect(count({})).toBe(24);
    expect(count({ gradientCheckpointing: false, checkpointEveryNLayers: 2 })).toBe(0);
    expect(count({ checkpointEveryNLayers: 2 })).toBe(12);
    expect(count({ checkpointEveryNLayers: 5 })).toBe(5); // layers 0, 5, 10, 15, 20
    expect(count({ activationMemoryBudget: 0 })).toBe(24);
    expect(count({ activationMemoryBudget: 1 })).toBe(0);
    expect(count({ activationMemoryBudget: 0.25 })).toBe(18);
    const { hiddenSize: h, numLayers } = shape;
    const half = await plan({ gradientCheckpointing: true, checkpointEveryNLayers: 2 });
    const k = Math.ceil(numLayers / 2);
    const layer = half.layerSaved.reduce((n, t) => n + t.bytesPerToken, 0);
    expect(half.activations.checkpointedLayers).toBe(k);
    expect(half.activations.planned).toBe(half.tokens * (4 * h * k + layer * (numLayers - k)));
  });

  it('LoRA: frozen base linears keep nothing; dropout keeps noise and a dropped input per adapter', async () => {
    const { hiddenSize: h, intermediateSize: i, numHeads, headDim } = shape;
    const q = numHeads * headDim;
    const r = 8;
    const sdpa = 4 * (4 * q + base.maxLength);
    const bytes = (p: { layerSaved: { bytesPerToken: number }[] }) =>
      p.layerSaved.reduce((n, t) => n + t.bytesPerToken, 0);
    // q_proj, v_proj (PEFT's default) without dropout: the norm output once (shared), two middles; the MLP fused.
    const qv = await plan({ lora: { r, targets: ['q_proj', 'v_proj'], dropout: 0 }, reference: 'base' });
    expect(bytes(qv)).toBe(4 * h + sdpa + 4 * h + 8 * i + 4 * h + 2 * 4 * r);
    // With dropout each adapter has its own noise and dropped input.
    const dropped = await plan({ lora: { r, targets: ['q_proj', 'v_proj'], dropout: 0.05 }, reference: 'base' });
    expect(bytes(dropped) - bytes(qv)).toBe(2 * 8 * h - 4 * h);
    // all-linear: the MLP's plain ops (gate, silu(gate), up), o_proj's and down_proj's inputs.
    const all = await plan({ lora: { r, targets: ['all-linear'], dropout: 0 }, reference: 'base' });
    expect(bytes(all)).toBe(4 * h + sdpa + 4 * h + 12 * i + 4 * h + 4 * q + 4 * h + 4 * i + 7 * 4 * r);
  });

  it('ZeRO: DDP buckets at stage 0/1; stage 2 keeps the owned gradients; stage 3 shards the weights', async () => {
    const params = parameterCount(shape);
    const ddp = await plan({ worldSize: 2 });
    expect(ddp.gradientBuckets).toBe(params * 4);
    expect(ddp.gradients).toBe(params * 4);
    const zero2 = await plan({ worldSize: 4, zeroStage: 2, bucketBytes: 1024 });
    expect(zero2.gradientBuckets).toBe(0);
    expect(zero2.gradients).toBe((params * 4) / 4 + 2 * 1024);
    expect(zero2.optimizer).toBe((2 * params * 4) / 4);
    expect(zero2.weights).toBe(params * 4);
    // ZeRO-3 (ZERO3's memory model): 1/N of every unit, the root unit (embeddings, final norm, lm_head) gathered
    // whole and two decoder layers; gradients 1/N with one layer's and two flat units in flight.
    const zero3 = await plan({ worldSize: 4, zeroStage: 3 });
    const root = shape.vocabSize * shape.hiddenSize * (shape.tieWordEmbeddings ? 1 : 2) + shape.hiddenSize;
    const layer = (params - root) / shape.numLayers;
    expect(zero3.weights).toBe((params / 4 + root + 2 * layer) * 4);
    expect(zero3.gradients).toBe((params * 4) / 4 + 4 * (layer + 2 * Math.max(root, layer)));
    expect(zero3.gradientBuckets).toBe(0);
    expect(zero3.optimizer).toBe(zero2.optimizer);
  });

  it('the config keys: zero_stage 3 recomputes every layer; precompute_ref_log_probs null follows the epochs', async () => {
    shape ??= await readModelShape(modelDir('llama'));
    const settings = (keys: Record<string, unknown>) =>
      planSettings(
        resolveConfig({ trainer: 'dpo', model_name_or_path: modelDir('llama'), output_dir: dir, ...keys }),
        shape,
        'cpu',
      );
    expect(settings({ zero_stage: 3, gradient_checkpointing: false })).toMatchObject({
      zeroStage: 3,
      gradientCheckpointing: true,
    });
    expect(settings({ num_train_epochs: 2 }).precomputeRefLogProbs).toBe(true);
    expect(settings({ num_train_epochs: 2, precompute_ref_log_probs: false }).precomputeRefLogProbs).toBe(false);
    expect(settings({ num_train_epochs: 1 }).precomputeRefLogProbs).toBe(false);
    expect(
      settings({ gradient_checkpointing_kwargs: { every_n_layers: 2 }, ref_model_dtype: 'bfloat16' }),
    ).toMatchObject({ checkpointEveryNLayers: 2, referenceDtype: 'bfloat16' });
    expect(settings({ activation_memory_budget: 0.5 }).activationMemoryBudget).toBe(0.5);
    // LoRA: DPO's disable_dropout turns lora_dropout off; SFT keeps it.
    expect(settings({ use_peft: true }).lora).toMatchObject({ dropout: 0 });
    expect(settings({ use_peft: true, trainer: 'sft' }).lora).toMatchObject({ dropout: 0.05 });
  });

  it('ref_model_dtype bfloat16 halves the reference copy', async () => {
    const p = await plan({ referenceDtype: 'bfloat16' });
    expect(p.reference).toBe(parameterCount(shape) * 2);
    expect(p.total).toBeLessThan((await plan({})).total);
  });

  it('each committed measurement is within 15% of its estimate: three shapes, DPO, KTO and SFT', () => {
    const files = readdirSync(join(fixturesDir, 'estimate')).filter((f) => /^measured-.*\.json$/.test(f));
    const rows = files.flatMap((f) => {
      const json = JSON.parse(readFileSync(join(fixturesDir, 'estimate', f), 'utf8')) as {
        generator: string;
        rows: MeasuredRow[];
      };
      expect(json.generator).toBe('scripts/estimate/measure-peak.mjs');
      return json.rows;
    });
    const covered = new Set(rows.map((r) => `${r.shape} ${r.trainer}`));
    for (const shapeName of ['small', 'medium', 'qwen2.5-0.5b'])
      for (const trainer of ['dpo', 'kto', 'sft'])
        expect(covered, `${shapeName} ${trainer}`).toContain(`${shapeName} ${trainer}`);
    for (const row of rows) {
      const config = resolveConfig({ ...row.config, model_name_or_path: modelDir('llama'), output_dir: dir });
      const estimated = memoryPlan(row.modelShape, planSettings(config, row.modelShape, 'cpu')).total / 2 ** 20;
      expect(Math.abs(estimated / row.measuredMiB - 1), `${row.shape} ${row.trainer} ${row.setting}`).toBeLessThan(
        0.15,
      );
    }
  });
});

/** The fixture Llama with 64 rows of 512 tokens and no checkpointing: activations decide whether it fits. */
function bigBatchEstimate() {
  const config = resolveConfig({
    trainer: 'dpo',
    model_name_or_path: modelDir('llama'),
    use_cpu: true,
    bf16: false,
    gradient_checkpointing: false,
    per_device_train_batch_size: 64,
    max_length: 512,
  });
  return estimateConfig(config, { device: 'cpu' });
}

describe('fitting', () => {
  it('names the options that each make the plan fit, and the warning line train() prints', async () => {
    const estimate = await bigBatchEstimate();
    const withCheckpointing = memoryPlan(estimate.shape, { ...estimate.settings, gradientCheckpointing: true }).total;
    const budget = withCheckpointing + 1;
    expect(budget).toBeLessThan(estimate.plan.total);
    const changes = fitOptions(estimate, budget).map((o) => o.change);
    expect(changes).toContain('gradient_checkpointing: true');
    expect(changes).toContain('per_device_train_batch_size: 32 (gradient_accumulation_steps raised to keep the batch)');
    expect(changes).not.toContain('precompute_ref_log_probs: true'); // the reference is small next to activations
    const line = wontFitLine({ ...estimate, available: { ...estimate.available, available: budget } })!;
    expect(line).toMatch(/^warning: this run is estimated to need .* it would fit with gradient_checkpointing: true/);
    expect(
      wontFitLine({ ...estimate, available: { ...estimate.available, available: estimate.plan.total } }),
    ).toBeNull();
  });
});

describe('fitting part of the layers', () => {
  it('names activation_memory_budget (and every_n_layers) when checkpointing some layers fits', async () => {
    const estimate = await bigBatchEstimate();
    const shape = { ...estimate.shape, numLayers: 8 };
    const half = memoryPlan(shape, { ...estimate.settings, gradientCheckpointing: true, checkpointEveryNLayers: 2 });
    expect(half.activations.checkpointedLayers).toBe(4);
    const option = partialCheckpointing({ shape, settings: estimate.settings }, half.total)!;
    expect(option.change).toBe(
      'gradient_checkpointing: true + activation_memory_budget: 0.56 (4 of 8 layers recomputed) or gradient_checkpointing_kwargs: {every_n_layers: 2}',
    );
    expect(option.total).toBe(half.total);
    expect(fitOptions({ shape, settings: estimate.settings }, half.total)[0]).toEqual(option);
    // Three layers are not enough: below that budget it takes more.
    expect(partialCheckpointing({ shape, settings: estimate.settings }, half.total - 1)?.change).toMatch(/\(5 of 8/);
  });
});

describe('alignkit estimate (CLI)', () => {
  const dir = tempDir('alignkit-estimate-');
  const recipe = {
    model_name_or_path: modelDir('llama'),
    use_cpu: true,
    per_device_train_batch_size: 2,
    max_length: 64,
  };

  it('prints the plan, and --json with flags over the config keys', () => {
    const path = join(dir, 'config.yaml');
    writeFileSync(path, stringify({ trainer: 'dpo', ...recipe }));
    const table = alignkit('estimate', path);
    expect(table.status, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/peak \(estimated\)/);
    expect(table.stdout).toMatch(/fits: yes/);
    const json = alignkit('estimate', path, '--per_device_train_batch_size', '4', '--json');
    expect(json.status, json.stderr).toBe(0);
    const out = JSON.parse(json.stdout) as { plan: { tokens: number }; settings: PlanSettings; fits: boolean };
    expect(out.plan.tokens).toBe(2 * 4 * 64);
    // bf16 unset: TRL's default, autocast on; gradient_checkpointing's default true.
    expect(out.settings).toMatchObject({ bf16: true, gradientCheckpointing: true, reference: 'copy' });
    expect(out.fits).toBe(true);
  });

  it('a TRL recipe (no trainer key) takes the trainer as the first argument', () => {
    const path = join(dir, 'recipe.yaml');
    writeFileSync(path, stringify({ ...recipe, use_peft: true, lora_target_modules: ['all-linear'] }));
    const refused = alignkit('estimate', path);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/no trainer: key .*alignkit estimate dpo\|sft\|kto/);
    const ok = alignkit('estimate', 'sft', path, '--json');
    expect(ok.status, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ settings: { trainer: 'sft', reference: 'none' } });
  });
});
