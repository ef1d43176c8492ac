// ZeRO stage 3 (FSDP FULL_SHARD: parameters, gradients and AdamW state sharded; native/distributed/full_shard.h)
// against one unsharded process: two and three ranks (zero-worker.mjs) train the fixture model with gradient
// accumulation and clipping (max_grad_norm 0.5 clips every step, so the global norm over the shards decides the
// update) and must give per step the losses, grad norms and weights of one process running every rank's rows, the
// same optimizer file, and hold per rank only each unit's 1/N slice of parameters and gradients between steps.
// Their checkpoints (full optimizer state, gathered HF weights) resume at any world size and stage, both ways.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../src/index.js';
import { modelDir } from '../helpers/fixtures.js';
import {
  expectClose,
  expectSameTensors,
  learningRates,
  oneProcessRows,
  ranks,
  run,
  type RankResult,
} from './zero-helpers.js';

/**
 * float32 bytes of rank `rank`'s shards, each unit (a decoder layer; the rest is the root) padded to N equal slices,
 * and of the parameter elements in them (the padding has no AdamW state).
 */
async function shardBytes(worldSize: number, rank: number): Promise<{ padded: number; real: number }> {
  const units = new Map<string, number>();
  for (const p of (await loadModel(modelDir('llama'))).parameters()) {
    const unit = /^model\.layers\.(\d+)\./.exec(p.name)?.[1] ?? 'root';
    units.set(unit, (units.get(unit) ?? 0) + p.shape.reduce((a, b) => a * b, 1));
  }
  let padded = 0;
  let real = 0;
  for (const numel of units.values()) {
    const slice = Math.ceil(numel / worldSize);
    padded += 4 * slice;
    real += 4 * Math.min(slice, Math.max(0, numel - rank * slice));
  }
  return { padded, real };
}

describe('ZeRO stage 3 (parameters sharded, gathered per decoder layer)', () => {
  const plan = {
    modelDir: modelDir('llama'),
    learningRates,
    attach: true,
    rowPerRank: true,
    sameRows: true,
    accumulate: 2,
  } as const;

  function expectShards(what: string, result: RankResult, bytes: { padded: number; real: number }) {
    expect(result.gradientBytes, `${what}: gradient bytes`).toEqual(learningRates.map(() => bytes.padded));
    expect(result.parameterBytes, `${what}: parameter bytes`).toEqual(learningRates.map(() => bytes.padded));
    expect(result.stateBytes, `${what}: AdamW state bytes`).toBe(2 * bytes.real);
  }

  it('equals one process per step with accumulation and clipping at 2 and 3 ranks, holds 1/N, resumes across world sizes', async () => {
    const single = await oneProcessRows({ ...plan, saveOptimizerAfter: 2 }, 1);
    expect(Math.min(...single.gradNorms)).toBeGreaterThan(run.max_grad_norm);
    const finalModel = join(single.out, 'model-0', 'model.safetensors');
    const finalOptimizer = join(single.out, 'optimizer.safetensors');
    const mid = { ...plan, modelDir: join(single.out, 'model-mid'), learningRates: learningRates.slice(2) };
    const midOptimizers = new Map<number, string>();
    for (const worldSize of [2, 3]) {
      const what = `${worldSize} ranks`;
      const sharded = await ranks(worldSize, { ...plan, zeroStage: 3, saveOptimizerAfter: 2 });
      for (const [rank, result] of sharded.ranks.entries()) {
        const bytes = await shardBytes(worldSize, rank);
        expectClose(result.losses, single.losses[0]!, 1e-5, `${what}: rank ${rank} losses`);
        expectClose(result.gradNorms, single.gradNorms, 1e-5, `${what}: rank ${rank} grad norms`);
        expectShards(`${what}: rank ${rank}`, result, bytes);
        // Gathered for the save: every rank's weights are the one process's.
        await expectSameTensors(join(sharded.out, `model-${rank}`, 'model.safetensors'), finalModel, 1e-6);
      }
      // As stage 2: DDP's g/3 + g/3 + g/3 rounds away from g, which AdamW's squared gradients carry to ~1e-6.
      const state = worldSize === 2 ? 1e-7 : 1e-5;
      await expectSameTensors(join(sharded.out, 'optimizer.safetensors'), finalOptimizer, state);
      await expectSameTensors(
        join(sharded.out, 'model-mid', 'model.safetensors'),
        join(mid.modelDir, 'model.safetensors'),
        1e-6,
      );
      midOptimizers.set(worldSize, join(sharded.out, 'optimizer-mid.safetensors'));
      // One process's checkpoint resumes on the stage 3 ranks.
      const fromSingle = await ranks(worldSize, {
        ...mid,
        zeroStage: 3,
        loadOptimizer: join(single.out, 'optimizer-mid.safetensors'),
      });
      await expectSameTensors(join(fromSingle.out, 'model-0', 'model.safetensors'), finalModel, 1e-6);
      await expectSameTensors(join(fromSingle.out, 'optimizer.safetensors'), finalOptimizer, state);
    }
    // 2 ranks' checkpoint → 1 unsharded process and → 3 stage 3 ranks; 3 ranks' → 2 stage 2 ranks.
    const fromTwo = await oneProcessRows({ ...mid, loadOptimizer: midOptimizers.get(2)! }, 1);
    await expectSameTensors(join(fromTwo.out, 'model-0', 'model.safetensors'), finalModel, 1e-6);
    const twoToThree = await ranks(3, { ...mid, zeroStage: 3, loadOptimizer: midOptimizers.get(2)! });
    await expectSameTensors(join(twoToThree.out, 'model-2', 'model.safetensors'), finalModel, 1e-6);
    const threeToTwo = await ranks(2, { ...mid, zeroStage: 2, loadOptimizer: midOptimizers.get(3)! });
    await expectSameTensors(join(threeToTwo.out, 'model-1', 'model.safetensors'), finalModel, 1e-6);
  }, 120_000);

  it('with each rank its own rows equals one process running both ranks', async () => {
    // One micro-step per step: one process halves each rank's loss, exactly DDP's averaging at 2 ranks.
    const rows = { ...plan, sameRows: false, accumulate: 1 };
    const single = await oneProcessRows(rows, 2);
    const sharded = await ranks(2, { ...rows, zeroStage: 3 });
    for (const [rank, result] of sharded.ranks.entries()) {
      expectClose(result.losses, single.losses[rank]!, 1e-5, `rank ${rank} losses`);
      expectClose(result.gradNorms, single.gradNorms, 1e-5, `rank ${rank} grad norms`);
      await expectSameTensors(
        join(sharded.out, `model-${rank}`, 'model.safetensors'),
        join(single.out, 'model-0', 'model.safetensors'),
        1e-6,
      );
    }
  }, 60_000);
});
