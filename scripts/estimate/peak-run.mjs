#!/usr/bin/env node
// One training run in this process, for measure-peak.mjs: `node peak-run.mjs '<config JSON>'` trains it with
// train() (dist/) and prints {maxRssMiB, steps} as one JSON line: the process's peak resident memory, which is
// what `alignkit estimate` predicts on the CPU. `node peak-run.mjs --baseline` loads libtorch only and prints its
// peak (the runtime baseline).
import { info, train } from '../../dist/index.js';

const rss = () => process.resourceUsage().maxRSS / 1024;
if (process.argv[2] === '--baseline') {
  info();
  console.log(JSON.stringify({ maxRssMiB: rss() }));
} else {
  const result = await train(JSON.parse(process.argv[2]), { log: (m) => console.error(`alignkit: ${m}`) });
  console.log(JSON.stringify({ maxRssMiB: rss(), steps: result.globalStep }));
}
