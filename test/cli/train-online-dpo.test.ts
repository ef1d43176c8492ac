// `alignkit train` with trainer: online_dpo and the config's `judge` module (the built CLI, dist/): one line per
// round and per log, the round's completions scored by the module, the model saved to output_dir.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixturesDir, modelDir, tempDir } from '../helpers/fixtures.js';

const cli = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');

describe('alignkit train, trainer: online_dpo', () => {
  it('scores completions with the judge module the config names', () => {
    const dir = tempDir('cli-online');
    // Longer is better: the module gets the prompt, the prompt's completions and its row.
    writeFileSync(
      join(dir, 'judge.mjs'),
      'export default (prompt, completions, row) => completions.map((c) => c.length + (row.case ? 0 : 100));\n',
    );
    writeFileSync(
      join(dir, 'online.yaml'),
      [
        'trainer: online_dpo',
        `model_name_or_path: ${modelDir('reward-policy')}`,
        `train_dataset: ${join(fixturesDir, 'demo', 'data', 'prompts.jsonl')}`,
        `output_dir: ${join(dir, 'out')}`,
        'judge: ./judge.mjs',
        'iterations: 2',
        'max_new_tokens: 6',
        'per_device_train_batch_size: 16',
        'max_steps: 1',
        'logging_steps: 1',
        'bf16: false',
        'gradient_checkpointing: false',
        'use_cpu: true',
        "save_strategy: 'no'",
      ].join('\n'),
    );
    const stdout = execFileSync(process.execPath, [cli, 'train', 'online.yaml'], { cwd: dir, encoding: 'utf8' });
    expect(stdout).toMatch(/^round 1: \d+ pairs, \d+ ties  score \d/m);
    expect(stdout).toMatch(/^step 1\/1  loss /m);
    expect(stdout).toMatch(/^round 2: /m);
    expect(stdout).toMatch(/^step 2\/2  loss /m);
    expect(stdout).toContain(`done: 2 round(s), 2 steps; model saved to ${join(dir, 'out')}`);
    for (const line of readFileSync(join(dir, 'out', 'round-2', 'generations.jsonl'), 'utf8')
      .trim()
      .split('\n')) {
      const { completions, scores } = JSON.parse(line) as { completions: string[]; scores: number[] };
      expect(scores).toEqual(completions.map((c) => c.length));
    }
    expect(existsSync(join(dir, 'out', 'model.safetensors'))).toBe(true);
  });
});
