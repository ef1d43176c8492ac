// AdamW + clip_grad_norm_ + the linear schedule against the same three Trainer optimizer steps in PyTorch
// (torch.optim.AdamW over HF's decay / no-decay groups, fused for optim adamw_torch_fused and not for adamw_torch),
// recorded by scripts/fixtures/make_optim_reference.py.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  AlignkitError,
  createOptimizer,
  learningRateSchedule,
  loadModel,
  readSafetensors,
  type Model,
} from '../../src/index.js';
import type { OptimizerName } from '../../src/train/optimizer.js';
import { fixturesDir, maxAbs, maxAbsDiff, modelDir, reference, tempDir } from '../helpers/fixtures.js';

interface Run {
  learning_rate: number;
  adam_beta1: number;
  adam_beta2: number;
  adam_epsilon: number;
  weight_decay: number;
  max_grad_norm: number;
  lr_scheduler_type: 'linear';
  warmup_steps: number;
  num_training_steps: number;
  steps: Record<OptimizerName, { loss: number; grad_norm: number; learning_rate: number }[]>;
}

const ref = JSON.parse(readFileSync(join(fixturesDir, 'reference', 'optim.json'), 'utf8')) as {
  run: Run;
  decay_parameter_names: Record<string, string[]>;
};
const run = ref.run;
const lrAt = learningRateSchedule(run);

async function batch() {
  const r = await reference('llama');
  return { ids: r('input_ids').data as Int32Array, mask: r('attention_mask').data as Int32Array };
}

async function setup(optim: OptimizerName = 'adamw_torch_fused') {
  const model = await loadModel(modelDir('llama'));
  const optimizer = await createOptimizer(model, { ...run, optim });
  return { model, optimizer };
}

// One Trainer optimizer step: loss -> backward -> clip -> AdamW at the scheduled rate -> zero_grad.
async function trainerStep(model: Model, optimizer: Awaited<ReturnType<typeof createOptimizer>>, step: number) {
  const { ids, mask } = await batch();
  const loss = await model.forwardBackward(ids, mask, { seqLen: 12 });
  const gradNorm = await optimizer.clipGradNorm(run.max_grad_norm);
  const lr = lrAt(step);
  await optimizer.step(lr);
  await model.zeroGrad();
  return { loss, gradNorm, lr };
}

async function parameters(model: Model, dir: string) {
  await model.save(dir);
  return (await readSafetensors(join(dir, 'model.safetensors'))).tensors;
}

describe('AdamW as the Trainer runs it', () => {
  it.each(Object.keys(ref.decay_parameter_names))(
    '%s: decay group is Trainer.get_decay_parameter_names',
    async (name) => {
      const model = await loadModel(modelDir(name));
      const optimizer = await createOptimizer(model);
      expect(optimizer.decayParameterNames()).toEqual(ref.decay_parameter_names[name]);
    },
  );

  it.each(['adamw_torch_fused', 'adamw_torch'] as const)(
    '%s: three steps match PyTorch: loss, grad_norm, learning_rate, then every parameter',
    async (optim) => {
      const { model, optimizer } = await setup(optim);
      const steps = run.steps[optim];
      for (let step = 0; step < steps.length; step++) {
        const got = await trainerStep(model, optimizer, step);
        const want = steps[step]!;
        expect(Math.abs(got.loss - want.loss) / want.loss, `loss at step ${step + 1}`).toBeLessThan(1e-5);
        expect(Math.abs(got.gradNorm - want.grad_norm) / want.grad_norm, `grad_norm at step ${step + 1}`).toBeLessThan(
          1e-5,
        );
        expect(Math.abs(got.lr - want.learning_rate), `learning_rate at step ${step + 1}`).toBeLessThanOrEqual(
          1e-12 * run.learning_rate,
        );
      }
      const { tensors: expected } = await readSafetensors(
        join(fixturesDir, 'reference', `optim-llama-${optim}.safetensors`),
      );
      const got = await parameters(model, tempDir('optim'));
      expect([...got.keys()].sort()).toEqual([...expected.keys()].sort());
      for (const [name, t] of expected) {
        const want = t.data as Float32Array;
        const diff = maxAbsDiff(got.get(name)!.data as Float32Array, want, want.length);
        // The two optims' parameters differ by up to 5e-7 here: this bound tells them apart.
        expect(diff, `${name}: max abs diff ${diff}`).toBeLessThanOrEqual(2e-7 * Math.max(1, maxAbs(want)));
      }
    },
  );

  it('clipGradNorm(Infinity) measures without scaling', async () => {
    const { model, optimizer } = await setup();
    const { ids, mask } = await batch();
    await model.forwardBackward(ids, mask, { seqLen: 12 });
    const before = (await model.gradients()).get('lm_head.weight')!.data;
    const norm = await optimizer.clipGradNorm(Infinity);
    expect(Math.abs(norm - run.steps.adamw_torch_fused[0]!.grad_norm) / norm).toBeLessThan(1e-5);
    expect((await model.gradients()).get('lm_head.weight')!.data).toEqual(before);
  });

  it('state save -> load -> continue equals an uninterrupted run', async () => {
    const dir = tempDir('optim-state');
    const a = await setup();
    for (let step = 0; step < 3; step++) await trainerStep(a.model, a.optimizer, step);

    const b = await setup();
    for (let step = 0; step < 2; step++) await trainerStep(b.model, b.optimizer, step);
    await b.model.save(join(dir, 'model'));
    await b.optimizer.save(join(dir, 'optimizer.safetensors'));
    const state = await readSafetensors(join(dir, 'optimizer.safetensors'));
    expect(state.tensors.get('model.norm.weight.step')!.data).toEqual(new Float32Array([2]));
    expect(state.tensors.get('lm_head.weight.exp_avg_sq')!.shape).toEqual([256, 64]);

    const c = { model: await loadModel(join(dir, 'model')), optimizer: undefined as never };
    const optimizer = await createOptimizer(c.model, run);
    await optimizer.load(join(dir, 'optimizer.safetensors'));
    await trainerStep(c.model, optimizer, 2);

    const [pa, pc] = await Promise.all([parameters(a.model, join(dir, 'a')), parameters(c.model, join(dir, 'c'))]);
    for (const [name, t] of pa) expect(pc.get(name)!.data, name).toEqual(t.data);
  });

  it('load names a missing or extra state tensor', async () => {
    const dir = tempDir('optim-bad');
    const { optimizer } = await setup();
    await optimizer.save(join(dir, 'full.safetensors'));
    const { tensors } = await readSafetensors(join(dir, 'full.safetensors'));
    expect(tensors.size).toBe(3 * 21);
    // qwen2 is tied: its state has no lm_head.weight.
    const qwen = await createOptimizer(await loadModel(modelDir('qwen2')));
    await qwen.save(join(dir, 'qwen2.safetensors'));
    const err = await optimizer.load(join(dir, 'qwen2.safetensors')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AlignkitError);
    expect((err as AlignkitError).code).toBe('ERR_INVALID_ARG');
    expect((err as Error).message).toMatch(
      /qwen2\.safetensors: optimizer state has no tensor lm_head\.weight\.exp_avg$/,
    );
    writeFileSync(
      join(dir, 'empty.safetensors'),
      Buffer.concat([Buffer.from([2, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{}')]),
    );
    await expect(optimizer.load(join(dir, 'empty.safetensors'))).rejects.toThrow(
      /has no tensor model\.embed_tokens\.weight\.exp_avg\b/,
    );
  });
});
