// One rank of the ZeRO runs in test/distributed/zero.test.ts, started with torchrun's variables:
// `node zero-worker.mjs <plan.json>`. Every rank trains on the same batch (so the gradients are the single-process
// ones, whether or not plan.attach averages them over the ranks as DDP does), or with plan.rowPerRank on its own
// row of it per micro-step (row (rank + micro-step) % rows, or with plan.sameRows micro-step % rows; plan.accumulate micro-steps per step, only the last one
// synced as the Trainer's gradient accumulation; plan.emulate: one process runs the rows of that many ranks), with a sharded AdamW of plan.zeroStage (default 1; 2 and 3 need
// plan.attach), then writes what the test compares into plan.out. With zero_stage 3 every rank gathers the
// parameters before a rank saves the model (gatherParameters, a no-op at the other stages).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const plan = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const root = fileURLToPath(new URL('../..', import.meta.url));
// The addon as the package loads it (dist/: `npm run build:ts` first, as the tests' global setup does).
const { native } = await import(join(root, 'dist', 'native.js'));
const addon = native();
const rank = Number(process.env.RANK);

const group = await addon.NativeProcessGroup.connect({
  rank,
  worldSize: Number(process.env.WORLD_SIZE),
  masterAddr: process.env.MASTER_ADDR,
  masterPort: Number(process.env.MASTER_PORT),
  timeoutMs: 60_000,
});
const model = await addon.NativeModel.load(plan.modelDir, {});
if (plan.attach) await group.attach(model, { bucketCapMb: plan.bucketCapMb, firstBucketCapMb: plan.bucketCapMb });
const optimizer = await addon.NativeOptimizer.create(model, {
  ...plan.adamw,
  group,
  zeroStage: plan.zeroStage ?? 1,
  bucketCapMb: plan.bucketCapMb,
});
if (plan.loadOptimizer) await optimizer.load(plan.loadOptimizer);

const { tensors } = await addon.readSafetensors(plan.batchFile);
const ids = tensors.find((t) => t.name === 'input_ids').data;
const mask = tensors.find((t) => t.name === 'attention_mask').data;
const labels = tensors.find((t) => t.name === 'labels').data;
const batch = ids.length / plan.seqLen;
const row = (data, r) => data.subarray(r * plan.seqLen, (r + 1) * plan.seqLen);
const gradNorms = [];
const losses = [];
const gradientBytes = [];
const parameterBytes = [];
for (const [i, lr] of plan.learningRates.entries()) {
  const accumulate = plan.accumulate ?? 1;
  for (let micro = 0; micro < accumulate; micro++) {
    const options = { syncGradients: micro === accumulate - 1 };
    // sftStep is a training step (its gradients averaged over an attached group when synced); forwardBackward is not.
    if (plan.emulate) {
      // One process running every rank's rows, each loss scaled by 1 / ranks (what DDP's averaging gives).
      for (let other = 0; other < plan.emulate; other++) {
        const r = ((plan.sameRows ? 0 : other) + micro) % batch;
        const step = await model.sftStep(row(ids, r), row(mask, r), null, row(labels, r), 1, plan.seqLen, {
          lossScale: 1 / plan.emulate,
        });
        (losses[other] ??= []).push(step.loss);
      }
    } else if (plan.rowPerRank) {
      const r = ((plan.sameRows ? 0 : rank) + micro) % batch;
      losses.push((await model.sftStep(row(ids, r), row(mask, r), null, row(labels, r), 1, plan.seqLen, options)).loss);
    } else if (plan.attach)
      losses.push((await model.sftStep(ids, mask, null, labels, batch, plan.seqLen, options)).loss);
    else await model.forwardBackward(ids, mask, batch, plan.seqLen);
  }
  gradNorms.push(await optimizer.clipGradNorm(plan.maxGradNorm));
  gradientBytes.push(optimizer.gradientBytes());
  await optimizer.step(lr);
  await model.zeroGrad();
  parameterBytes.push(optimizer.parameterBytes());
  if (i + 1 === plan.saveOptimizerAfter) {
    await optimizer.save(rank === 0 ? join(plan.out, 'optimizer-mid.safetensors') : null);
    await optimizer.gatherParameters(rank === 0);
    if (rank === 0) await model.save(join(plan.out, 'model-mid'), 50e9);
  }
}
await optimizer.save(rank === 0 ? join(plan.out, 'optimizer.safetensors') : null);
await optimizer.gatherParameters(true);
await model.save(join(plan.out, `model-${rank}`), 50e9);
writeFileSync(
  join(plan.out, `rank-${rank}.json`),
  JSON.stringify({ stateBytes: optimizer.stateBytes(), gradNorms, losses, gradientBytes, parameterBytes }),
);
await group.close(true); // a finished run: rank 0 keeps the rendezvous store until the others leave
