// ZeRO stage 1 against the unsharded AdamW, which test/train/optimizer.test.ts checks against PyTorch: two and
// three ranks (test/distributed/zero-worker.mjs) train the fixture model with the optimizer state sharded, and must
// give the single process's parameters and a full optimizer file equal to its file, hold the state of the
// parameters torch's ZeroRedundancyOptimizer gives each rank (scripts/fixtures/make_zero_partition.py), and
// write checkpoints that resume across world sizes in both directions. ZeRO stage 2 (gradients reduced to their
// owners) trains each rank on its own rows with gradient accumulation and clipping, and must give per step the
// losses, grad norms and weights of one process that runs every rank's rows (and of stages 0 and 1), while each
// rank holds only the gradients of the parameters it owns.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DataParallel } from '../../src/distributed/data-parallel.js';
import { AlignkitError, createOptimizer, loadModel } from '../../src/index.js';
import { native, type NativeProcessGroup } from '../../src/native.js';
import { modelDir, reference, tempDir } from '../helpers/fixtures.js';
import { freePort } from '../helpers/ports.js';
import {
  adamw,
  expectClose,
  expectSameTensors,
  learningRates,
  oneProcessRows,
  partition,
  ranks,
  run,
  seqLen,
  type Plan,
} from './zero-helpers.js';

/** The same steps in this process with the unsharded optimizer; saves the optimizer after `saveOptimizerAfter` steps. */
async function oneProcess(plan: Plan) {
  const out = tempDir('zero-single');
  const model = await loadModel(plan.modelDir);
  const optimizer = await createOptimizer(model, run);
  if (plan.loadOptimizer) await optimizer.load(plan.loadOptimizer);
  const r = await reference('llama');
  const [ids, mask, labels] = [
    r('input_ids').data as Int32Array,
    r('attention_mask').data as Int32Array,
    r('labels').data as Int32Array,
  ];
  for (const [i, lr] of plan.learningRates.entries()) {
    if (plan.attach) await model.sftStep({ inputIds: ids, attentionMask: mask, labels, seqLen });
    else await model.forwardBackward(ids, mask, { seqLen });
    await optimizer.clipGradNorm(run.max_grad_norm);
    await optimizer.step(lr);
    await model.zeroGrad();
    if (i + 1 === plan.saveOptimizerAfter) {
      await optimizer.save(join(out, 'optimizer-mid.safetensors'));
      await model.save(join(out, 'model-mid'));
    }
  }
  await optimizer.save(join(out, 'optimizer.safetensors'));
  await model.save(join(out, 'model'));
  return { out, stateBytes: optimizer.stateBytes() };
}

describe('ZeRO stage 1 (optimizer state sharded over the ranks)', () => {
  it("trains as the unsharded AdamW with the state torch's partition gives each rank, saves the same file, resumes across world sizes", async () => {
    const fixture = modelDir('llama');
    const single = await oneProcess({ modelDir: fixture, learningRates, saveOptimizerAfter: 2 });
    const finalModel = join(single.out, 'model', 'model.safetensors');
    const finalOptimizer = join(single.out, 'optimizer.safetensors');

    const midOptimizers = new Map<number, string>();
    // 3 ranks with 16 KiB buckets: parameters and state split over several broadcasts (the largest, 64 KiB, alone).
    for (const [worldSize, bucketCapMb] of [
      [2, undefined],
      [3, 1 / 64],
    ] as const) {
      const sharded = await ranks(worldSize, { modelDir: fixture, learningRates, saveOptimizerAfter: 2, bucketCapMb });
      midOptimizers.set(worldSize, join(sharded.out, 'optimizer-mid.safetensors'));
      for (let rank = 0; rank < worldSize; rank++) {
        await expectSameTensors(join(sharded.out, `model-${rank}`, 'model.safetensors'), finalModel, 1e-6);
      }
      await expectSameTensors(join(sharded.out, 'optimizer.safetensors'), finalOptimizer, 1e-7);
      await expectSameTensors(
        join(sharded.out, 'optimizer-mid.safetensors'),
        join(single.out, 'optimizer-mid.safetensors'),
        1e-7,
      );
      // float32 exp_avg and exp_avg_sq of the parameters each rank owns; together, the unsharded optimizer's.
      expect(
        sharded.ranks.map((r) => r.stateBytes),
        `world size ${worldSize}`,
      ).toEqual(partition[worldSize]!.elements.map((n) => 2 * 4 * n));
      expect(sharded.ranks.reduce((sum, r) => sum + r.stateBytes, 0)).toBe(single.stateBytes);
    }

    // Attached as DDP: the gradient all-reduces and the optimizer's broadcasts share the group.
    const sftSingle = await oneProcess({ modelDir: fixture, learningRates, attach: true });
    const sftSharded = await ranks(2, { modelDir: fixture, learningRates, attach: true });
    for (const rank of [0, 1]) {
      await expectSameTensors(
        join(sftSharded.out, `model-${rank}`, 'model.safetensors'),
        join(sftSingle.out, 'model', 'model.safetensors'),
        1e-6,
      );
    }
    await expectSameTensors(
      join(sftSharded.out, 'optimizer.safetensors'),
      join(sftSingle.out, 'optimizer.safetensors'),
      1e-7,
    );

    // 2- and 3-rank checkpoints -> 1 unsharded process, and 1 process's checkpoint -> 2 sharded ranks, for the third step.
    const mid = { modelDir: join(single.out, 'model-mid'), learningRates: learningRates.slice(2) };
    for (const file of midOptimizers.values()) {
      const fromSharded = await oneProcess({ ...mid, loadOptimizer: file });
      await expectSameTensors(join(fromSharded.out, 'model', 'model.safetensors'), finalModel, 1e-6);
      await expectSameTensors(join(fromSharded.out, 'optimizer.safetensors'), finalOptimizer, 1e-7);
    }
    const fromSingle = await ranks(2, {
      ...mid,
      loadOptimizer: join(single.out, 'optimizer-mid.safetensors'),
      bucketCapMb: 0,
    });
    await expectSameTensors(join(fromSingle.out, 'model-0', 'model.safetensors'), finalModel, 1e-6);
    await expectSameTensors(join(fromSingle.out, 'optimizer.safetensors'), finalOptimizer, 1e-7);
  }, 60_000);

  it('a world of one stays unsharded; a bad zero stage or group is an error naming it', async () => {
    const model = await loadModel(modelDir('llama'));
    const elements = model.parameters().reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
    const single = await createOptimizer(model, run, { group: DataParallel.single, zeroStage: 1 });
    expect(single.stateBytes()).toBe(2 * 4 * elements); // float32 exp_avg and exp_avg_sq of every parameter

    const err = await createOptimizer(model, run, { group: DataParallel.single, zeroStage: 4 }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AlignkitError);
    expect((err as AlignkitError).code).toBe('ERR_INVALID_CONFIG');
    expect((err as Error).message).toBe(
      'zero_stage: expected 0 (off), 1 (optimizer-state sharding), 2 (optimizer state and gradients) or 3 (parameters too), got 4',
    );
    const create = (options: object) => () =>
      native().NativeOptimizer.create(model.nativeHandle(), { ...adamw, ...options });
    expect(create({ zeroStage: 1 })).toThrow('options.group must be a NativeProcessGroup when options.zeroStage is 1');
    expect(create({ zeroStage: 1, group: {} as NativeProcessGroup })).toThrow('group must be a NativeProcessGroup');
    expect(create({ zeroStage: 4 })).toThrow('options.zeroStage must be 0, 1, 2 or 3, got 4');
    expect(create({ zeroStage: 3 })).toThrow('options.group must be a NativeProcessGroup when options.zeroStage is 3');
    expect(create({ zeroStage: 2 })).toThrow('options.group must be a NativeProcessGroup when options.zeroStage is 2');
    // Stage 2 needs the model's backward to reduce into the owners: unattached, it is refused.
    const group = await native().NativeProcessGroup.connect({
      rank: 0,
      worldSize: 1,
      masterAddr: '127.0.0.1',
      masterPort: await freePort(),
      timeoutMs: 30_000,
    });
    await expect(create({ zeroStage: 2, group })()).rejects.toThrow(
      'zeroStage 2 needs the model attached to options.group first (NativeProcessGroup.attach)',
    );
    await expect(create({ zeroStage: 3, group })()).rejects.toThrow(
      'zeroStage 3 needs the model attached to options.group first (NativeProcessGroup.attach)',
    );
    // Stage 3 shards trainable base weights: a LoRA model (frozen base) is refused, naming stage 2 instead.
    const lora = await loadModel(modelDir('llama'));
    await lora.addLora({ r: 2 });
    await group.attach(lora.nativeHandle(), {});
    await expect(
      native().NativeOptimizer.create(lora.nativeHandle(), { ...adamw, zeroStage: 3, group }),
    ).rejects.toThrow('zero_stage 3 with LoRA is not supported');
    await group.close(true);
    expect(create({ zeroStage: 0, bucketCapMb: -1 })).toThrow(
      'options.bucketCapMb must be a number >= 0 (0: one tensor per broadcast)',
    );
    const handle = await native().NativeOptimizer.create(model.nativeHandle(), adamw);
    expect(() => handle.save(undefined as never)).toThrow('path must be a string, or null to write nothing');
  });
});

describe('ZeRO stage 2 (gradients reduced to their owners)', () => {
  const plan = { modelDir: modelDir('llama'), learningRates, attach: true, rowPerRank: true, accumulate: 2 } as const;
  const total = partition[2]!.elements.reduce((a, b) => a + b, 0);

  /** Every rank's losses and grad norms within 1e-5 of one process's; its weights within `relative` (max |w|). */
  async function expectRanksMatch(
    what: string,
    sharded: Awaited<ReturnType<typeof ranks>>,
    single: Awaited<ReturnType<typeof oneProcessRows>>,
    relative: number,
  ) {
    for (const [rank, result] of sharded.ranks.entries()) {
      expectClose(result.losses, single.losses[rank] ?? single.losses[0]!, 1e-5, `${what}: rank ${rank} losses`);
      expectClose(result.gradNorms, single.gradNorms, 1e-5, `${what}: rank ${rank} grad norms`);
      await expectSameTensors(
        join(sharded.out, `model-${rank}`, 'model.safetensors'),
        join(single.out, 'model-0', 'model.safetensors'),
        relative,
      );
    }
  }

  /** Stage 2 keeps the float32 gradients of its parameters only, no buckets; 0 and 1 all of them plus DDP's buckets. */
  function expectGradientBytes(what: string, sharded: Awaited<ReturnType<typeof ranks>>, zeroStage: number) {
    const worldSize = sharded.ranks.length;
    for (const [rank, result] of sharded.ranks.entries()) {
      const owned = partition[worldSize]!.elements[rank]!;
      expect(result.gradientBytes, `${what}: rank ${rank} gradient bytes`).toEqual(
        learningRates.map(() => (zeroStage === 2 ? 4 * owned : 2 * 4 * total)),
      );
    }
  }

  it('equals one process (and DDP) per step with accumulation and clipping, holds only the owned gradients, resumes both ways', async () => {
    // Every rank the same rows (so the averaged gradients are one process's, as the stage 1 test above), a different
    // row per micro-step; max_grad_norm 0.5 clips every step, so the global norm over the shards decides the update.
    const same = { ...plan, sameRows: true };
    const single = await oneProcessRows({ ...same, saveOptimizerAfter: 2 }, 1);
    expect(Math.min(...single.gradNorms)).toBeGreaterThan(run.max_grad_norm);
    const finalModel = join(single.out, 'model-0', 'model.safetensors');
    const finalOptimizer = join(single.out, 'optimizer.safetensors');
    const mid = { ...same, modelDir: join(single.out, 'model-mid'), learningRates: learningRates.slice(2) };
    // 3 ranks with 16 KiB buckets: several buckets, each reduced to several owners.
    for (const [worldSize, bucketCapMb] of [
      [2, undefined],
      [3, 1 / 64],
    ] as const) {
      const what = `${worldSize} ranks`;
      const sharded = await ranks(worldSize, { ...same, zeroStage: 2, bucketCapMb, saveOptimizerAfter: 2 });
      const ddp = await ranks(worldSize, { ...same, zeroStage: 0, bucketCapMb });
      await expectRanksMatch(what, sharded, single, 1e-6);
      expectGradientBytes(what, sharded, 2);
      expectGradientBytes(`${what}, zero_stage 0`, ddp, 0);
      // DDP divides by the world size before summing: g/3 + g/3 + g/3 rounds away from g, which the squared
      // gradients of AdamW's state carry to ~1.2e-6 of their largest value, plain DDP (zero_stage 0) alike; and
      // Gloo's reduce adds three ranks' values in another order than its all-reduce. At 2 ranks every sum is exact.
      const state = worldSize === 2 ? 1e-7 : 1e-5;
      await expectSameTensors(join(sharded.out, 'optimizer.safetensors'), finalOptimizer, state);
      await expectSameTensors(
        join(sharded.out, 'optimizer.safetensors'),
        join(ddp.out, 'optimizer.safetensors'),
        worldSize === 2 ? 1e-7 : 1e-6,
      );
      // Its mid checkpoint (the full optimizer state, as stage 1 writes it) resumes in one process for the third
      // step, and one process's resumes on the stage 2 ranks.
      const fromSharded = await oneProcessRows(
        { ...mid, loadOptimizer: join(sharded.out, 'optimizer-mid.safetensors') },
        1,
      );
      await expectSameTensors(join(fromSharded.out, 'model-0', 'model.safetensors'), finalModel, 1e-6);
      const fromSingle = await ranks(worldSize, {
        ...mid,
        zeroStage: 2,
        bucketCapMb,
        loadOptimizer: join(single.out, 'optimizer-mid.safetensors'),
      });
      await expectSameTensors(join(fromSingle.out, 'model-0', 'model.safetensors'), finalModel, 1e-6);
      await expectSameTensors(join(fromSingle.out, 'optimizer.safetensors'), finalOptimizer, state);
    }
  }, 120_000);

  it('with each rank its own rows equals one process running every rank, and stages 0 and 1', async () => {
    for (const [worldSize, bucketCapMb] of [
      [2, undefined],
      [3, 1 / 64],
    ] as const) {
      // One process scales each rank's loss by 1 / world size: at 2 ranks (one micro-step, so no reordered sums)
      // exactly DDP's halving; 1/3 rounds, and AdamW's g / sqrt(v) turns the rounding of near-zero gradients into
      // weight differences far above 1e-6, so at 3 ranks the weights are compared with DDP's (stage 0) instead.
      const rows = { ...plan, accumulate: worldSize === 2 ? 1 : 2 };
      const single = await oneProcessRows(rows, worldSize);
      const runs = new Map<number, Awaited<ReturnType<typeof ranks>>>();
      for (const zeroStage of [0, 1, 2] as const) {
        const what = `${worldSize} ranks, zero_stage ${zeroStage}`;
        const sharded = await ranks(worldSize, { ...rows, zeroStage, bucketCapMb });
        runs.set(zeroStage, sharded);
        expectGradientBytes(what, sharded, zeroStage);
        await expectRanksMatch(what, sharded, single, worldSize === 2 ? 1e-6 : Infinity);
      }
      for (const zeroStage of [1, 2]) {
        for (let rank = 0; rank < worldSize; rank++) {
          await expectSameTensors(
            join(runs.get(zeroStage)!.out, `model-${rank}`, 'model.safetensors'),
            join(runs.get(0)!.out, 'model-0', 'model.safetensors'),
            1e-6,
          );
        }
        await expectSameTensors(
          join(runs.get(zeroStage)!.out, 'optimizer.safetensors'),
          join(runs.get(0)!.out, 'optimizer.safetensors'),
          worldSize === 2 ? 1e-7 : 1e-6, // Gloo's reduce and all-reduce sum 3 ranks in different orders
        );
      }
    }
  }, 120_000);
});
