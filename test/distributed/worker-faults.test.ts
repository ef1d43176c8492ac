// Faults as a worker meets them under any launcher (torchrun, SLURM: workers started with torchrun's variables and
// no alignkit supervisor): a rank that hangs or dies makes the others fail within ddp_timeout (plus the heartbeat
// check) with an error naming it, rank 0's death is named by the store it hosted, and a port in use, an
// unreachable master or configs that differ across ranks are clear errors. Workers are the built CLI (dist/).
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { fixturesDir, modelDir, tempDir } from '../helpers/fixtures.js';
import { freePort, occupiedPort } from '../helpers/ports.js';

const cli = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');
const DDP_TIMEOUT = 4;

function writeConfig(dir: string, name: string, extra: Record<string, unknown> = {}): string {
  const path = join(dir, `${name}.json`);
  writeFileSync(
    path,
    JSON.stringify({
      trainer: 'dpo',
      model_name_or_path: modelDir('llama'),
      train_dataset: join(fixturesDir, 'trl', 'dpo-train.jsonl'),
      output_dir: join(dir, 'out'),
      per_device_train_batch_size: 2,
      max_steps: 100_000,
      logging_steps: 1,
      bf16: false,
      gradient_checkpointing: false,
      save_strategy: 'no',
      use_cpu: true,
      // Trains from step 1 (no precomputing pass, which max_steps past one epoch would turn on by itself).
      precompute_ref_log_probs: false,
      ddp_timeout: DDP_TIMEOUT,
      ...extra,
    }),
  );
  return path;
}

interface Worker {
  process: ChildProcess;
  output: () => string;
  exit: Promise<number | null>;
}

/** `alignkit train config` as rank `rank` of a 2-process job, as torchrun would start it. */
function worker(config: string, rank: number, port: number): Worker {
  const env = {
    ...process.env,
    RANK: String(rank),
    WORLD_SIZE: '2',
    LOCAL_RANK: String(rank),
    LOCAL_WORLD_SIZE: '2',
    MASTER_ADDR: '127.0.0.1',
    MASTER_PORT: String(port),
    OMP_NUM_THREADS: '1',
  };
  const child = spawn(process.execPath, [cli, 'train', config], { env });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk));
  return {
    process: child,
    output: () => output,
    exit: new Promise((resolve) => child.on('exit', (code) => resolve(code))),
  };
}

/** Ranks 0 and 1 of a fresh 2-process job, training until one of them is stopped. */
async function twoRanks(name: string): Promise<[Worker, Worker]> {
  const config = writeConfig(tempDir(name), 'config');
  const port = await freePort();
  return [worker(config, 0, port), worker(config, 1, port)];
}

/** Waits until `w` has logged a training step. */
const training = (w: Worker) =>
  vi.waitFor(() => expect(w.output()).toMatch(/step [1-9]/), { timeout: 60_000, interval: 50 });

describe('a rank that stops', () => {
  it('hung (SIGSTOP): the other rank fails after ddp_timeout, naming it', async () => {
    const [rank0, rank1] = await twoRanks('fault-hang');
    await training(rank0);
    rank1.process.kill('SIGSTOP');
    const stoppedAt = Date.now();
    expect(await rank0.exit).toBe(1);
    expect((Date.now() - stoppedAt) / 1000).toBeLessThan(DDP_TIMEOUT + 10);
    // Whichever collective rank 1 stopped in (gradients, metrics, ...).
    expect(rank0.output()).toMatch(
      /rank 0 of 2: [a-z -]+ failed: rank 1 stopped responding \(no heartbeat for 2\.5 s: it exited, crashed or hangs\).*\[ERR_DISTRIBUTED\]/,
    );
    rank1.process.kill('SIGKILL');
  }, 60_000);

  it('rank 0 killed: the other rank names it by its store', async () => {
    const [rank0, rank1] = await twoRanks('fault-rank0');
    await training(rank0);
    rank0.process.kill('SIGKILL');
    expect(await rank1.exit).toBe(1);
    expect(rank1.output()).toMatch(
      /rank 1 of 2: [a-z -]+ failed: rank 0, which hosts the rendezvous store, is gone \(it exited or crashed\)/,
    );
  }, 60_000);
});

describe('setup errors', () => {
  it('a port in use on rank 0 is ERR_PORT_IN_USE', async () => {
    const { port, close } = await occupiedPort();
    try {
      const rank0 = worker(writeConfig(tempDir('fault-port'), 'config'), 0, port);
      expect(await rank0.exit).toBe(1);
      expect(rank0.output()).toContain(
        `alignkit: rank 0: cannot host the rendezvous at 127.0.0.1:${port}: the port is in use (choose another with --master_port / MASTER_PORT) [ERR_PORT_IN_USE]`,
      );
    } finally {
      await close();
    }
  });

  it('an unreachable master fails the rendezvous after ddp_timeout', async () => {
    const port = await freePort();
    const rank1 = worker(writeConfig(tempDir('fault-master'), 'config'), 1, port);
    expect(await rank1.exit).toBe(1);
    expect(rank1.output()).toContain(
      `alignkit: rank 1: rendezvous at 127.0.0.1:${port} failed within ${DDP_TIMEOUT} s (is rank 0 running and 127.0.0.1:${port} reachable from here?)`,
    );
  }, 30_000);

  it('configs that differ across ranks are an error on every rank, naming the rank and the key', async () => {
    const dir = tempDir('fault-config');
    const port = await freePort();
    const [rank0, rank1] = [
      worker(writeConfig(dir, 'a'), 0, port),
      worker(writeConfig(dir, 'b', { learning_rate: 2e-6 }), 1, port),
    ];
    for (const w of [rank0, rank1]) {
      expect(await w.exit).toBe(1);
      expect(w.output()).toContain(
        'config: rank 1 has learning_rate: 0.000002 but rank 0 has 0.000001; every rank must train with the same config',
      );
    }
  }, 30_000);
});
