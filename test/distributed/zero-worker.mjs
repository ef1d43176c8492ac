// One rank of the ZeRO stage 1 run in test/distributed/zero.test.ts, started with torchrun's variables:
// `node zero-worker.mjs <plan.json>`. Every rank trains on the same batch (so the gradients are the single-process
// ones, whether or not plan.attach averages them over the ranks as DDP does) with a sharded AdamW, then writes
// what the test compares into plan.out.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const plan = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const root = fileURLToPath(new URL('../..', import.meta.url));
const addon = createRequire(import.meta.url)('node-gyp-build')(root);
const rank = Number(process.env.RANK);

const group = await addon.NativeProcessGroup.connect({
  rank,
  worldSize: Number(process.env.WORLD_SIZE),
  masterAddr: process.env.MASTER_ADDR,
  masterPort: Number(process.env.MASTER_PORT),
  timeoutMs: 60_000,
});
const model = await addon.NativeModel.load(plan.modelDir, {});
if (plan.attach) await group.attach(model, {});
const optimizer = await addon.NativeOptimizer.create(model, {
  ...plan.adamw,
  group,
  zeroStage: 1,
  bucketCapMb: plan.bucketCapMb,
});
if (plan.loadOptimizer) await optimizer.load(plan.loadOptimizer);

const { tensors } = await addon.readSafetensors(plan.batchFile);
const ids = tensors.find((t) => t.name === 'input_ids').data;
const mask = tensors.find((t) => t.name === 'attention_mask').data;
const labels = tensors.find((t) => t.name === 'labels').data;
const batch = ids.length / plan.seqLen;
const gradNorms = [];
for (const [i, lr] of plan.learningRates.entries()) {
  // sftStep is a synced training step (its gradients averaged over an attached group); forwardBackward is not.
  if (plan.attach) await model.sftStep(ids, mask, null, labels, batch, plan.seqLen, {});
  else await model.forwardBackward(ids, mask, batch, plan.seqLen);
  gradNorms.push(await optimizer.clipGradNorm(plan.maxGradNorm));
  await optimizer.step(lr);
  await model.zeroGrad();
  if (i + 1 === plan.saveOptimizerAfter)
    await optimizer.save(rank === 0 ? join(plan.out, 'optimizer-mid.safetensors') : null);
}
await optimizer.save(rank === 0 ? join(plan.out, 'optimizer.safetensors') : null);
await model.save(join(plan.out, `model-${rank}`), 50e9);
writeFileSync(join(plan.out, `rank-${rank}.json`), JSON.stringify({ stateBytes: optimizer.stateBytes(), gradNorms }));
await group.close(true); // a finished run: rank 0 keeps the rendezvous store until the others leave
