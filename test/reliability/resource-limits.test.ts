// Resource limits: sizes in config.json are checked against the checkpoint's tensors before anything is allocated for
// them (num_hidden_layers: 1e9 is one error naming the field, not gigabytes and then std::bad_alloc), and a small run
// works under an address-space limit (`ulimit -v`, which clusters set), JSON lines and Parquet data alike.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixturesDir, tempDir } from '../helpers/fixtures.js';
import { cli, copyModel, dpoConfig } from './cli-run.js';

/** The CLI under `ulimit -v <kib>` (address space), killed after `timeout` ms. */
function underLimit(kib: number, args: string[], timeout = 120_000) {
  return spawnSync(
    'bash',
    ['-c', `ulimit -v ${kib}; exec "${process.execPath}" "${cli}" ${args.map((a) => `"${a}"`).join(' ')}`],
    { encoding: 'utf8', timeout },
  );
}

describe('config.json sizes against the checkpoint', () => {
  it.each([1e9, 1e6, 3])(
    'num_hidden_layers %d on a 2-layer checkpoint is one error naming the field, at once',
    (layers) => {
      const model = copyModel(join(tempDir('huge-config'), 'model'));
      const config = JSON.parse(readFileSync(join(model, 'config.json'), 'utf8'));
      writeFileSync(join(model, 'config.json'), JSON.stringify({ ...config, num_hidden_layers: layers }));
      const started = Date.now();
      const r = underLimit(6_000_000, ['inspect', model], 60_000);
      expect(r.status, r.stderr).toBe(1);
      expect(r.stderr.trim()).toBe(
        `alignkit: ${join(model, 'config.json')}: num_hidden_layers is ${layers}, but the checkpoint ` +
          'holds the weights of 2 layer(s) (model.layers.0 to model.layers.1) [ERR_INVALID_MODEL]',
      );
      expect(Date.now() - started).toBeLessThan(30_000);
    },
  );
});

describe('a small run under ulimit -v 12000000', () => {
  it.each([
    ['JSON lines', join(fixturesDir, 'trl', 'dpo-train.jsonl'), false],
    ['Parquet', join(fixturesDir, 'data', 'standard.parquet'), true],
  ])('trains on %s data', (_, data, skipInvalid) => {
    const dir = tempDir('ulimit');
    const r = underLimit(12_000_000, [
      'train',
      dpoConfig(dir, { train_dataset: data, skip_invalid_rows: skipInvalid }),
    ]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^done: 2 steps/m);
  });
});
