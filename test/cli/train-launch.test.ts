// `alignkit train --nproc_per_node N` (the built CLI, dist/): torchrun's flags checked before anything starts, the
// config checked once by the launcher, the other flags forwarded to every worker, a failed worker reported.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixturesDir, modelDir, tempDir } from '../helpers/fixtures.js';
import { freePort } from '../helpers/ports.js';

const cli = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');
const alignkit = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

describe('alignkit train --nproc_per_node', () => {
  it.each([
    [['--nproc_per_node', '0'], 'alignkit: nproc_per_node: expected an integer >= 1, got 0 [ERR_INVALID_ARG]'],
    [
      ['--nproc-per-node', '2', '--nnodes', '2', '--node_rank', '2'],
      'alignkit: node_rank: expected an integer in 0..1 (below nnodes=2), got 2 [ERR_INVALID_ARG]',
    ],
    [['--nnodes', '0'], 'alignkit: nnodes: expected an integer >= 1, got 0 [ERR_INVALID_ARG]'],
    [
      ['--nproc_per_node', 'two'],
      "error: option '--nproc_per_node <n>' argument 'two' is invalid. expected a whole number",
    ],
  ])('%j is one clear error line and exit code 1', (flags, message) => {
    const result = alignkit('train', 'x.yaml', ...flags);
    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toBe(message);
    expect(result.stdout).toBe('');
  });

  it('checks the config once, before starting workers', () => {
    const result = alignkit('train', join(tempDir('launch-cli-missing'), 'missing.yaml'), '--nproc_per_node', '2');
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^alignkit: \S*missing\.yaml: cannot be read .*\[ERR_NOT_FOUND\]\n$/);
    expect(result.stdout).toBe('');
  });

  it("forwards the other flags to the workers and reports the first failure with its stderr's end", async () => {
    const dir = tempDir('launch-cli');
    const config = join(dir, 'dpo.yaml');
    writeFileSync(
      config,
      [
        'trainer: dpo',
        `model_name_or_path: ${modelDir('llama')}`,
        `train_dataset: ${join(fixturesDir, 'trl', 'dpo-train.jsonl')}`,
        `output_dir: ${join(dir, 'out')}`,
        'max_steps: 1',
      ].join('\n'),
    );
    // --resume with no checkpoint in output_dir: each worker refuses, so the forwarded flag shows in the failure.
    const port = await freePort();
    const result = alignkit('train', config, '--nproc_per_node', '2', '--master_port', String(port), '--resume');
    expect(result.stdout).toMatch(
      new RegExp(`^launching 2 worker\\(s\\): ranks 0\\.\\.1 of 2, rendezvous at 127\\.0\\.0\\.1:${port}\\n`),
    );
    expect(result.status).toBe(1);
    const refusal = `alignkit: resume_from_checkpoint: true, but output_dir ${join(dir, 'out')} holds no checkpoint-N folder to resume from [ERR_NOT_FOUND]`;
    expect(result.stderr).toContain(`] ${refusal}\n`);
    expect(result.stderr).toMatch(
      /^alignkit: worker rank [01] \(pid \d+\) exited with code 1; the other workers were stopped; the last lines of its stderr:$/m,
    );
    expect(result.stderr.trimEnd().endsWith(`\n  ${refusal} [ERR_WORKER_FAILED]`)).toBe(true);
  });
});
