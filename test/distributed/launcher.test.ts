// launch() with stand-in workers (worker.mjs): torchrun's variables for each rank, output prefixed by rank, and
// torchrun's supervision (all 0 -> 0, the first failure stops the others and is reported, Ctrl-C -> 130);
// distributedEnv's reading of the same variables.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AlignkitError } from '../../src/errors.js';
import { distributedEnv, threadsPerWorker } from '../../src/distributed/launch-env.js';
import { launch, type LaunchOptions } from '../../src/distributed/launcher.js';
import { tempDir } from '../helpers/fixtures.js';
import { freePort, occupiedPort } from '../helpers/ports.js';

const worker = join(import.meta.dirname, 'worker.mjs');

/** A port nothing listens on now (the OS's pick). */

let stdout: string;
let stderr: string;
beforeEach(() => {
  stdout = '';
  stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    stdout += String(chunk);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    stderr += String(chunk);
    return true;
  });
});
afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

async function options(mode: string, dir: string, more: Partial<LaunchOptions> = {}): Promise<LaunchOptions> {
  return {
    nprocPerNode: 2,
    nnodes: 1,
    nodeRank: 0,
    masterAddr: '127.0.0.1',
    masterPort: await freePort(),
    command: [process.execPath, worker, mode, dir],
    ...more,
  };
}

/** launch's rejection (fails the test when it resolves). */
async function failure(launched: Promise<number>): Promise<AlignkitError> {
  const err = await launched.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AlignkitError);
  return err as AlignkitError;
}

const isRunning = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('launch', () => {
  it("gives each worker torchrun's variables and one thread share, and prefixes its lines with the rank", async () => {
    vi.stubEnv('OMP_NUM_THREADS', undefined);
    const opts = await options('env', tempDir('launch-env'));
    expect(await launch(opts)).toBe(0);
    const envs = [0, 1].map((rank) => JSON.parse(new RegExp(`^\\[rank ${rank}\\] (\\{.*\\})$`, 'm').exec(stdout)![1]!));
    const threads = String(threadsPerWorker(2));
    expect(envs).toEqual(
      [0, 1].map((rank) => ({
        RANK: String(rank),
        WORLD_SIZE: '2',
        LOCAL_RANK: String(rank),
        LOCAL_WORLD_SIZE: '2',
        GROUP_RANK: '0',
        MASTER_ADDR: '127.0.0.1',
        MASTER_PORT: String(opts.masterPort),
        OMP_NUM_THREADS: threads,
      })),
    );
    for (const rank of [0, 1]) {
      expect(stdout).toMatch(new RegExp(`^\\[rank ${rank}\\] no newline from ${rank}$`, 'm'));
      expect(stderr).toMatch(new RegExp(`^\\[rank ${rank}\\] stderr of ${rank}$`, 'm'));
    }
    // Every line carries a prefix: nothing from a worker comes out bare or split.
    expect(stdout.split('\n').filter((l) => l !== '' && !/^\[rank [01]\] /.test(l))).toEqual([]);
  });

  it("numbers node 1's workers after node 0's and keeps the user's OMP_NUM_THREADS", async () => {
    vi.stubEnv('OMP_NUM_THREADS', '3');
    // Node 1 does not host the store: its port is not checked, even when taken.
    expect(await launch(await options('env', tempDir('launch-node1'), { nnodes: 2, nodeRank: 1 }))).toBe(0);
    const envs = [2, 3].map((rank) => JSON.parse(new RegExp(`^\\[rank ${rank}\\] (\\{.*\\})$`, 'm').exec(stdout)![1]!));
    expect(
      envs.map((e) => [e.RANK, e.LOCAL_RANK, e.WORLD_SIZE, e.LOCAL_WORLD_SIZE, e.GROUP_RANK, e.OMP_NUM_THREADS]),
    ).toEqual([
      ['2', '0', '4', '2', '1', '3'],
      ['3', '1', '4', '2', '1', '3'],
    ]);
  });

  it('a worker exiting 3 stops the others and is reported with its rank, pid, exit code and stderr tail', async () => {
    const dir = tempDir('launch-fail');
    const started = performance.now();
    const err = await failure(launch(await options('fail', dir)));
    expect(err.code).toBe('ERR_WORKER_FAILED');
    expect(err.message).toMatch(
      /^worker rank 1 \(pid \d+\) exited with code 3; the other workers were stopped; the last lines of its stderr:\n/,
    );
    const quoted = err.message.split('\n').slice(1);
    expect(quoted).toHaveLength(20);
    expect(quoted[0]).toBe('  trace line 7');
    expect(quoted.at(-1)).toBe('  boom: rank 1 failed');
    // The sleeper got SIGTERM at once (well within the 5 s before SIGKILL) and is gone.
    expect(performance.now() - started).toBeLessThan(4000);
    expect(isRunning(Number(readFileSync(join(dir, 'rank0.pid'), 'utf8')))).toBe(false);
  });

  it('a worker that ignores SIGTERM is killed after the grace period', async () => {
    const dir = tempDir('launch-stubborn');
    const started = performance.now();
    const err = await failure(launch(await options('stubborn', dir, { stopGraceMs: 1000 })));
    expect(err.message).toMatch(/^worker rank 1 \(pid \d+\) exited with code 1; /);
    expect(performance.now() - started).toBeGreaterThanOrEqual(1000);
    expect(isRunning(Number(readFileSync(join(dir, 'rank0.pid'), 'utf8')))).toBe(false);
  });

  it('a worker killed by a signal is reported with the signal', async () => {
    const dir = tempDir('launch-sigkill');
    const err = await failure(launch(await options('sigkill', dir)));
    expect(err.code).toBe('ERR_WORKER_FAILED');
    expect(err.message).toMatch(
      /^worker rank 1 \(pid \d+\) was killed by signal SIGKILL; the other workers were stopped \(its stderr was empty\)$/,
    );
    expect(isRunning(Number(readFileSync(join(dir, 'rank0.pid'), 'utf8')))).toBe(false);
  });

  it("stdio 'inherit' leaves the workers' output alone, and says so in a failure", async () => {
    const err = await failure(launch(await options('sigkill', tempDir('launch-inherit'), { stdio: 'inherit' })));
    expect(err.message).toMatch(
      /^worker rank 1 \(pid \d+\) was killed by signal SIGKILL; the other workers were stopped \(its stderr went to the terminal\)$/,
    );
  });

  it('a command that cannot start is reported as such', async () => {
    const missing = join(tempDir('launch-missing'), 'no-such-program');
    const err = await failure(launch({ ...(await options('env', '')), command: [missing] }));
    expect(err.code).toBe('ERR_WORKER_FAILED');
    expect(err.message).toMatch(
      new RegExp(
        `^worker rank [01] \\(pid -\\) could not start \\(spawn ${missing} ENOENT\\); the other workers were stopped \\(its stderr was empty\\)$`,
      ),
    );
  });

  it('abort forwards one SIGINT; workers that save and exit 130 make a clean stop (130)', async () => {
    const dir = tempDir('launch-sigint');
    const controller = new AbortController();
    const launched = launch(await options('sigint', dir, { signal: controller.signal }));
    await vi.waitFor(() => expect(existsSync(join(dir, 'ready-0')) && existsSync(join(dir, 'ready-1'))).toBe(true), {
      timeout: 5000,
      interval: 20,
    });
    controller.abort();
    expect(await launched).toBe(130);
    expect(stdout).toMatch(/^\[rank 0\] saving checkpoint$/m);
    expect(stdout).toMatch(/^\[rank 1\] saving checkpoint$/m);
  });

  it('workers die with the launcher process (a second Ctrl-C exits it), even ones that ignore SIGINT and SIGTERM', async () => {
    const [dir, port] = [tempDir('launch-exit'), await freePort()];
    // The built launcher (dist/, which `npm test` builds first), in a process of its own.
    const code = await new Promise((resolve) => {
      spawn(process.execPath, [join(import.meta.dirname, 'exiting-launcher.mjs'), dir, String(port)], {
        stdio: 'ignore',
      }).on('exit', resolve);
    });
    expect(code).toBe(130);
    const pids = [0, 1].map((rank) => Number(readFileSync(join(dir, `pid-${rank}`), 'utf8')));
    await vi.waitFor(() => expect(pids.filter(isRunning)).toEqual([]), { timeout: 5000, interval: 20 });
  });

  it('a taken master port is ERR_PORT_IN_USE naming address and port, before any worker starts', async () => {
    const { port, close } = await occupiedPort();
    try {
      const err = await failure(launch(await options('env', tempDir('launch-port'), { masterPort: port })));
      expect(err.code).toBe('ERR_PORT_IN_USE');
      expect(err.message).toBe(
        `master port ${port} is already in use on 127.0.0.1 (another job, or workers of an earlier one, hold it); pick a free one with --master_port`,
      );
      expect(stdout).toBe('');
    } finally {
      await close();
    }
  });

  it.each([
    [{ nprocPerNode: 0 }, 'nproc_per_node: expected an integer >= 1, got 0'],
    [{ nnodes: 0 }, 'nnodes: expected an integer >= 1, got 0'],
    [{ nodeRank: 2, nnodes: 2 }, 'node_rank: expected an integer in 0..1 (below nnodes=2), got 2'],
    [{ masterPort: 70000 }, 'master_port: expected an integer in 1..65535, got 70000'],
    [{ masterAddr: '' }, 'master_addr: expected a host name or address, got ""'],
    [{ stopGraceMs: -1 }, 'stopGraceMs: expected an integer >= 0, got -1'],
    [{ command: [] }, 'command: expected the argv of one worker, a non-empty array of strings'],
  ] as [Partial<LaunchOptions>, string][])('refuses %o: %s', async (bad, message) => {
    const err = await failure(launch(await options('env', tempDir('launch-bad'), bad)));
    expect(err.code).toBe('ERR_INVALID_ARG');
    expect(err.message).toBe(message);
  });
});

describe('distributedEnv', () => {
  const good = {
    RANK: '1',
    WORLD_SIZE: '4',
    LOCAL_RANK: '1',
    LOCAL_WORLD_SIZE: '2',
    MASTER_ADDR: 'node0',
    MASTER_PORT: '29500',
  };

  it("reads torchrun's variables, and is null outside a launched job", () => {
    expect(distributedEnv(good)).toEqual({
      rank: 1,
      worldSize: 4,
      localRank: 1,
      localWorldSize: 2,
      masterAddr: 'node0',
      masterPort: 29500,
    });
    expect(
      distributedEnv({ ...good, RANK: '0', WORLD_SIZE: '1', LOCAL_RANK: '0', LOCAL_WORLD_SIZE: '1' })?.worldSize,
    ).toBe(1);
    expect(distributedEnv({})).toBeNull();
    expect(distributedEnv({ PATH: '/bin' })).toBeNull();
  });

  it.each([
    ['WORLD_SIZE', '0', 'WORLD_SIZE: expected an integer >= 1 (torchrun\'s worker variables), got "0"'],
    ['WORLD_SIZE', 'two', 'WORLD_SIZE: expected an integer >= 1 (torchrun\'s worker variables), got "two"'],
    [
      'RANK',
      undefined,
      "RANK: expected an integer in 0..3 (below WORLD_SIZE=4) (torchrun's worker variables), it is unset",
    ],
    ['RANK', '4', 'RANK: expected an integer in 0..3 (below WORLD_SIZE=4) (torchrun\'s worker variables), got "4"'],
    ['RANK', '-1', 'RANK: expected an integer in 0..3 (below WORLD_SIZE=4) (torchrun\'s worker variables), got "-1"'],
    [
      'LOCAL_RANK',
      '2',
      'LOCAL_RANK: expected an integer in 0..1 (below LOCAL_WORLD_SIZE=2) (torchrun\'s worker variables), got "2"',
    ],
    [
      'LOCAL_WORLD_SIZE',
      '5',
      'LOCAL_WORLD_SIZE: expected an integer in 1..4 (at most WORLD_SIZE=4) (torchrun\'s worker variables), got "5"',
    ],
    [
      'LOCAL_WORLD_SIZE',
      undefined,
      "LOCAL_WORLD_SIZE: expected an integer in 1..4 (at most WORLD_SIZE=4) (torchrun's worker variables), it is unset",
    ],
    [
      'MASTER_ADDR',
      '',
      'MASTER_ADDR: expected the host name or address of rank 0 (torchrun\'s worker variables), got ""',
    ],
    ['MASTER_PORT', '0', 'MASTER_PORT: expected an integer in 1..65535 (torchrun\'s worker variables), got "0"'],
    ['MASTER_PORT', '1.5', 'MASTER_PORT: expected an integer in 1..65535 (torchrun\'s worker variables), got "1.5"'],
  ])('%s=%s is ERR_INVALID_ENV naming the variable', (name, value, message) => {
    const env: NodeJS.ProcessEnv = { ...good, [name]: value };
    if (value === undefined) delete env[name];
    const err = (() => {
      try {
        distributedEnv(env);
      } catch (e) {
        return e as AlignkitError;
      }
    })();
    expect(err).toBeInstanceOf(AlignkitError);
    expect(err!.code).toBe('ERR_INVALID_ENV');
    expect(err!.message).toBe(`environment variable ${message}`);
  });

  it('threadsPerWorker shares the cores, at least one each', () => {
    expect([threadsPerWorker(1, 16), threadsPerWorker(3, 16), threadsPerWorker(4, 2)]).toEqual([16, 5, 1]);
  });
});
