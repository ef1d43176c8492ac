#!/usr/bin/env node
// One worker of a data-parallel training job that reports what it measured: `node ddp-worker.mjs config.json
// out-prefix` trains the config (joining the job torchrun's variables describe, or alone without them) and writes
// out-prefix.<rank>.json: rank 0's step end times and losses, and every rank's gradient-averaging stats (syncs,
// all-reduces, seconds waited). bench:ddp launches it; test/distributed checks the sync count with it.
import { readFileSync, writeFileSync } from 'node:fs';
import { DataParallel, train } from '../../dist/index.js';

const [configPath, outPrefix] = process.argv.slice(2);
const config = JSON.parse(readFileSync(configPath, 'utf8'));
const dataParallel = await DataParallel.join(config);
const stepEnds = [];
const losses = [];
const start = performance.now();
await train(config, {
  dataParallel,
  log: () => {},
  onLog: (entry) => {
    if (!('loss' in entry)) return;
    stepEnds.push((performance.now() - start) / 1000);
    losses.push(entry.loss);
  },
});
const report = {
  rank: dataParallel.rank,
  worldSize: dataParallel.worldSize,
  stepEnds,
  losses,
  stats: dataParallel.gradientSyncStats(),
};
writeFileSync(`${outPrefix}.${dataParallel.rank}.json`, JSON.stringify(report));
await dataParallel.close();
