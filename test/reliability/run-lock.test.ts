// Two runs, one output_dir: the run holds output_dir/alignkit.lock (pid and host, created exclusively); a second run
// fails at once naming the holder. The lock goes on every way out (return, error, Ctrl-C, SIGTERM); one whose pid no
// longer runs on this host (kill -9) is taken over with a note.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { train } from '../../src/index.js';
import { LOCK_FILE, lockOutputDir } from '../../src/io/run-lock.js';
import { tempDir } from '../helpers/fixtures.js';
import { dpoConfig, expectOneLineError, runCli, startCli } from './cli-run.js';

/** The pid of a process that has exited. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '0']).pid!;
}

describe('lockOutputDir', () => {
  it('a second holder is refused, naming the first; released, the folder can be taken again', () => {
    const dir = tempDir('lock-unit');
    const release = lockOutputDir(dir, () => {});
    expect(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8'))).toMatchObject({
      pid: process.pid,
      host: hostname(),
    });
    expect(() => lockOutputDir(dir, () => {})).toThrow(
      expect.objectContaining({
        code: 'ERR_LOCKED',
        message: expect.stringContaining(`is in use by another run (pid ${process.pid} on ${hostname()}`),
      }),
    );
    release();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    lockOutputDir(dir, () => {})();
  });

  it('a lock whose pid no longer runs on this host is taken over, with a note', () => {
    const dir = tempDir('lock-stale');
    const pid = deadPid();
    writeFileSync(
      join(dir, LOCK_FILE),
      JSON.stringify({ pid, host: hostname(), started: 'then', command: 'killed -9' }),
    );
    const notes: string[] = [];
    const release = lockOutputDir(dir, (m) => notes.push(m));
    expect(notes).toEqual([
      `note: ${join(dir, LOCK_FILE)} was left by pid ${pid}, which no longer runs; taking it over`,
    ]);
    expect(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')).pid).toBe(process.pid);
    release();
  });

  it("another host's lock is never taken over (its pid cannot be checked from here)", () => {
    const dir = tempDir('lock-host');
    writeFileSync(
      join(dir, LOCK_FILE),
      JSON.stringify({ pid: deadPid(), host: 'another-node', started: 'then', command: '' }),
    );
    expect(() => lockOutputDir(dir, () => {})).toThrow(/in use by another run \(pid \d+ on another-node/);
  });

  it('a run that fails after taking the lock releases it', async () => {
    const dir = tempDir('lock-error');
    const empty = join(dir, 'empty.jsonl');
    writeFileSync(empty, '');
    const out = join(dir, 'out');
    await expect(
      train(
        {
          trainer: 'dpo',
          model_name_or_path: join(import.meta.dirname, '..', 'fixtures', 'models', 'llama'),
          train_dataset: empty,
          output_dir: out,
          use_cpu: true,
        },
        { log: () => {} },
      ),
    ).rejects.toMatchObject({ code: 'ERR_INVALID_DATA' });
    expect(existsSync(out)).toBe(true);
    expect(existsSync(join(out, LOCK_FILE))).toBe(false);
  });
});

describe('two CLI runs on one output_dir', () => {
  it('the second fails at once naming the first; the first, stopped by Ctrl-C twice, leaves no lock', async () => {
    const dir = tempDir('lock-cli');
    mkdirSync(join(dir, 'out'));
    const config = dpoConfig(dir, { max_steps: 100000 });
    const first = startCli(['train', config]);
    await vi.waitFor(() => expect(first.output()).toMatch(/step 1\//), { timeout: 60_000, interval: 100 });
    const second = runCli(['train', config]);
    expectOneLineError(
      second,
      'ERR_LOCKED',
      `output_dir ${join(dir, 'out')} is in use by another run (pid ${first.child.pid} on ${hostname()}`,
    );
    // The second Ctrl-C (300 ms after the first) quits at once through process.exit: the lock goes with it.
    first.child.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 400));
    first.child.kill('SIGINT');
    expect((await first.exit).code).toBe(130);
    expect(existsSync(join(dir, 'out', LOCK_FILE))).toBe(false);
  });
});
