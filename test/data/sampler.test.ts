// Shuffled epochs visit rows in the HF Trainer's order: recorded from transformers' real train dataloader
// (scripts/fixtures/make_trainer_order.py), epoch by epoch, with and without data_seed.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { batchesOf, epochOrder } from '../../src/data/sampler.js';
import { fixturesDir } from '../helpers/fixtures.js';

interface Case {
  rows: number;
  batch_size: number;
  seed: number;
  data_seed: number | null;
  epochs: number[][];
}
const { transformers_order: cases } = JSON.parse(
  readFileSync(join(fixturesDir, 'trl', 'trainer-order.json'), 'utf8'),
) as {
  transformers_order: Case[];
};

describe('epochOrder', () => {
  it.each(cases.map((c) => [`${c.rows} rows, seed ${c.seed}, data_seed ${c.data_seed}`, c] as const))(
    '%s: the Trainer order',
    (_, c) => {
      c.epochs.forEach((expected, epoch) => {
        const order = epochOrder(c.rows, { seed: c.data_seed ?? c.seed, epoch, shuffle: true });
        expect(order).toEqual(expected);
        expect(batchesOf(order, c.batch_size, false).flat()).toEqual(expected);
      });
    },
  );

  it('keeps table order without shuffle', () => {
    expect(epochOrder(5, { seed: 1, epoch: 3, shuffle: false })).toEqual([0, 1, 2, 3, 4]);
  });
});
