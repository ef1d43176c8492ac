// pad_token as TRL 1.13 takes it: any vocabulary token may pad (padded positions are masked, so the run is the
// same as with the tokenizer's own pad token); a token outside the vocabulary is a config error naming it.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { train } from '../../src/train/train-from-config.js';
import type { DpoConfig } from '../../src/types/config-types.js';
import { fixturesDir, modelDir, tempDir, withoutTimings } from '../helpers/fixtures.js';

function config(name: string, extra: Omit<DpoConfig, 'trainer'>): DpoConfig {
  const dir = tempDir(name);
  const data = join(dir, 'pairs.jsonl');
  const pairs = readFileSync(join(fixturesDir, 'trl', 'dpo-train.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .slice(0, 4);
  writeFileSync(data, pairs.join('\n') + '\n');
  return {
    trainer: 'dpo',
    model_name_or_path: modelDir('llama'),
    train_dataset: data,
    output_dir: dir,
    bf16: false,
    per_device_train_batch_size: 4,
    max_steps: 2,
    logging_steps: 1,
    save_strategy: 'no',
    ...extra,
  };
}

describe('pad_token', () => {
  it('pads with the given token, to the same result', async () => {
    const own = await train(config('pad-own', {}), { log: () => {} });
    const eos = await train(config('pad-eos', { pad_token: '</s>' }), { log: () => {} });
    expect(withoutTimings(eos.logHistory)).toEqual(withoutTimings(own.logHistory));
  });

  it('rejects a token outside the vocabulary', async () => {
    await expect(train(config('pad-bad', { pad_token: '<nope>' }), { log: () => {} })).rejects.toThrow(
      /pad_token '<nope>' is not in the tokenizer's vocabulary/,
    );
  });
});
