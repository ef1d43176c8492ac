// A stand-in for a training worker, started by launch() in test/distributed/launcher.test.ts:
// `node worker.mjs <mode> <dir>`, its rank from torchrun's RANK. Files in <dir> order the ranks without timing.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [mode, dir] = process.argv.slice(2);
const rank = Number(process.env.RANK);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const waitFor = async (file) => {
  while (!existsSync(join(dir, file))) await sleep(10);
};
const sleepForever = () => setInterval(() => {}, 1000);

switch (mode) {
  case 'env': {
    const names = [
      'RANK',
      'WORLD_SIZE',
      'LOCAL_RANK',
      'LOCAL_WORLD_SIZE',
      'GROUP_RANK',
      'MASTER_ADDR',
      'MASTER_PORT',
      'OMP_NUM_THREADS',
    ];
    console.log(JSON.stringify(Object.fromEntries(names.map((n) => [n, process.env[n]]))));
    process.stdout.write(`no newline from ${rank}`); // a last line without '\n' still comes out whole
    console.error(`stderr of ${rank}`);
    break;
  }
  case 'fail': // rank 1 exits 3 once rank 0 runs; rank 0 sleeps until stopped
    if (rank === 0) {
      writeFileSync(join(dir, 'rank0.pid'), String(process.pid));
      sleepForever();
    } else {
      await waitFor('rank0.pid');
      for (let i = 1; i <= 25; i++) console.error(`trace line ${i}`);
      console.error('boom: rank 1 failed');
      process.exit(3);
    }
    break;
  case 'sigkill': // rank 1 dies by SIGKILL (as the OOM killer does) once rank 0 runs
    if (rank === 0) {
      writeFileSync(join(dir, 'rank0.pid'), String(process.pid));
      sleepForever();
    } else {
      await waitFor('rank0.pid');
      process.kill(process.pid, 'SIGKILL');
    }
    break;
  case 'sigint': // as `alignkit train` does on Ctrl-C: finish, save, exit 130
    process.once('SIGINT', () => {
      console.log('saving checkpoint');
      process.exit(130);
    });
    writeFileSync(join(dir, `ready-${rank}`), '');
    sleepForever();
    break;
  case 'stubborn': // rank 0 ignores SIGINT and SIGTERM (a worker stuck in native code); rank 1 fails once it runs
    if (rank === 0) {
      process.on('SIGINT', () => {});
      process.on('SIGTERM', () => {});
      writeFileSync(join(dir, 'rank0.pid'), String(process.pid));
      sleepForever();
    } else {
      await waitFor('rank0.pid');
      process.exit(1);
    }
    break;
  case 'deaf': // ignores SIGINT and SIGTERM: only SIGKILL stops it
    process.on('SIGINT', () => {});
    process.on('SIGTERM', () => {});
    writeFileSync(join(dir, `pid-${rank}`), String(process.pid));
    sleepForever();
    break;
  default:
    throw new Error(`unknown mode ${mode}`);
}
