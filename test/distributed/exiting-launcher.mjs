// A launcher process that exits (as on a second Ctrl-C) while its workers run: `node exiting-launcher.mjs <dir> <port>`.
// Uses the built launcher (dist/, as the CLI does).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { launch } from '../../dist/distributed/launcher.js';

const [dir, port] = process.argv.slice(2);
const worker = join(import.meta.dirname, 'worker.mjs');
launch({
  nprocPerNode: 2,
  nnodes: 1,
  nodeRank: 0,
  masterAddr: '127.0.0.1',
  masterPort: Number(port),
  command: [process.execPath, worker, 'deaf', dir],
});
while (!existsSync(join(dir, 'pid-0')) || !existsSync(join(dir, 'pid-1')))
  await new Promise((resolve) => setTimeout(resolve, 10));
process.exit(130);
