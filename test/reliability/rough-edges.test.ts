// Signals and rough edges: SIGTERM (what schedulers and preemption send) stops a run as Ctrl-C does, with a checkpoint
// and exit code 143; an output_dir that is a file or cannot be written, a system error mid-run, a dataset that is a
// device or a pipe, and a safetensors file with bytes outside its tensors are one clear line, never a stack or a hang.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { readSafetensors } from '../../src/index.js';
import { corruptFile, tempDir } from '../helpers/fixtures.js';
import { dpoConfig, expectOneLineError, runCli, startCli } from './cli-run.js';

describe('SIGTERM', () => {
  it('finishes the step, saves a checkpoint and exits with 143', async () => {
    const dir = tempDir('sigterm');
    const run = startCli(['train', dpoConfig(dir, { max_steps: 100000 })]);
    await vi.waitFor(() => expect(run.output()).toMatch(/step 1\//), { timeout: 60_000, interval: 100 });
    run.child.kill('SIGTERM');
    expect(await run.exit).toEqual({ code: 143, signal: null });
    const step = /stopped at step (\d+): checkpoint (\S+)/.exec(run.output());
    expect(step, run.output()).not.toBeNull();
    expect(existsSync(join(step![2]!, 'trainer_state.json'))).toBe(true);
    expect(run.output()).toContain('--resume');
    expect(existsSync(join(dir, 'out', 'alignkit.lock'))).toBe(false);
  });
});

describe('an output_dir that cannot be used', () => {
  const dir = tempDir('bad-output');

  it('a file is one line, naming it', () => {
    writeFileSync(join(dir, 'a-file'), '');
    const result = runCli(['train', dpoConfig(dir, { output_dir: join(dir, 'a-file') })]);
    expectOneLineError(result, 'ERR_IO', `output_dir ${join(dir, 'a-file')} is a file, not a folder`);
  });

  it('a folder below a file is one line', () => {
    const result = runCli(['train', dpoConfig(dir, { output_dir: join(dir, 'a-file', 'out') })]);
    expectOneLineError(
      result,
      'ERR_IO',
      `output_dir ${join(dir, 'a-file', 'out')} cannot be created: a part of the path is a file, not a folder`,
    );
  });

  it('a folder without write permission is one line', () => {
    if (process.getuid?.() === 0) {
      // Root writes anywhere, and another user may not reach this checkout (a fresh clone in a 0700 folder): sysfs
      // refuses even root a new folder (EPERM; EROFS where /sys is mounted read-only).
      const result = runCli(['train', dpoConfig(dir, { output_dir: '/sys/alignkit-out' })]);
      expectOneLineError(
        result,
        'ERR_IO',
        /output_dir \/sys\/alignkit-out cannot be created: (permission denied|read-only file system)/,
      );
      return;
    }
    const locked = join(dir, 'locked');
    mkdirSync(locked, { mode: 0o555 });
    const result = runCli(['train', dpoConfig(dir, { output_dir: join(locked, 'out') })]);
    expectOneLineError(result, 'ERR_IO', `output_dir ${join(locked, 'out')} cannot be created: permission denied`);
  });

  it('a system error no check foresaw (a file of output_dir that is a folder) is one line too', () => {
    const out = join(dir, 'odd');
    mkdirSync(join(out, 'training_args.json'), { recursive: true });
    const result = runCli(['train', dpoConfig(dir, { output_dir: out })]);
    expectOneLineError(result, 'EISDIR', /EISDIR: illegal operation on a directory, open '.*odd\/training_args\.json'/);
  });
});

describe('a dataset that is not a regular file', () => {
  const dir = tempDir('not-regular');

  it('/dev/zero is refused at once, not read forever', () => {
    const result = runCli(['train', dpoConfig(dir, { train_dataset: '/dev/zero' })], { timeout: 60_000 });
    expectOneLineError(result, 'ERR_INVALID_DATA', '/dev/zero: not a regular file');
  });

  it('a pipe is refused, not waited on', () => {
    const fifo = join(dir, 'rows.jsonl');
    execFileSync('mkfifo', [fifo]);
    const result = runCli(['train', dpoConfig(dir, { train_dataset: fifo })], { timeout: 60_000 });
    expectOneLineError(result, 'ERR_INVALID_DATA', `${fifo}: not a regular file`);
  });
});

describe('safetensors bytes that belong to no tensor', () => {
  it.each([
    [
      'trailing-bytes',
      /8 trailing byte\(s\) after the last tensor's data \(the data buffer is 40 bytes, its tensors end at 32\)/,
    ],
    ['hole', /data buffer bytes \[24, 28\] before tensor 'b' belong to no tensor/],
    ['text', /the first 8 bytes give a header length above the 100 MB limit/],
  ])('%s.safetensors is refused, as Python safetensors refuses it', async (name, message) => {
    await expect(readSafetensors(corruptFile(name))).rejects.toMatchObject({
      code: 'ERR_INVALID_FILE',
      message: expect.stringMatching(message),
    });
  });
});
