// Epoch order and batching over a token table: reproducible per (seed, epoch), every row once per epoch,
// length grouping reduces padding, batches are collated as collatePreference does.
import { describe, expect, it } from 'vitest';
import { PreferenceBatches, type PreferenceBatchOptions } from '../../src/data/preference-batches.js';
import { buildTable, IdColumnBuilder } from '../../src/data/token-table.js';

function table(rows: number) {
  const builders = {
    prompt_ids: new IdColumnBuilder(),
    chosen_ids: new IdColumnBuilder(),
    rejected_ids: new IdColumnBuilder(),
  };
  for (let i = 0; i < rows; i++) {
    builders.prompt_ids.push(Array.from({ length: 1 + ((i * 7) % 13) }, (_, t) => 10 + t));
    builders.chosen_ids.push(Array.from({ length: 1 + ((i * 5) % 11) }, (_, t) => 50 + t));
    builders.rejected_ids.push(Array.from({ length: 1 + ((i * 3) % 7) }, (_, t) => 90 + t));
  }
  return buildTable(builders);
}

const options: PreferenceBatchOptions = {
  batchSize: 4,
  seed: 42,
  shuffle: true,
  groupByLength: false,
  dropLast: false,
  padTokenId: 0,
  maxLength: null,
  truncationMode: 'keep_start',
  padToMultipleOf: null,
};

describe('PreferenceBatches', () => {
  it('visits every row once per epoch in a reproducible, epoch-dependent order', () => {
    const batches = new PreferenceBatches(table(30), options);
    const epoch0 = batches.order(0);
    expect(epoch0).toHaveLength(8);
    expect(epoch0.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(new PreferenceBatches(table(30), options).order(0)).toEqual(epoch0);
    expect(batches.order(1)).not.toEqual(epoch0);
    expect(new PreferenceBatches(table(30), { ...options, seed: 7 }).order(0)).not.toEqual(epoch0);
    expect(new PreferenceBatches(table(30), { ...options, shuffle: false }).order(0).flat()).toEqual(
      Array.from({ length: 30 }, (_, i) => i),
    );
  });

  it('drops the short last batch only when asked', () => {
    expect(new PreferenceBatches(table(30), { ...options, dropLast: true }).order(0)).toHaveLength(7);
    expect(new PreferenceBatches(table(30), { ...options, dropLast: true }).length).toBe(7);
  });

  it('grouping by length pads less than a plain shuffle', () => {
    const padding = (b: PreferenceBatches) =>
      [...b.epoch(0)].reduce((n, batch) => n + batch.attentionMask.filter((m) => m === 0).length, 0);
    const plain = new PreferenceBatches(table(200), options);
    const grouped = new PreferenceBatches(table(200), { ...options, groupByLength: true });
    expect(
      grouped
        .order(0)
        .flat()
        .sort((a, b) => a - b),
    ).toEqual(
      plain
        .order(0)
        .flat()
        .sort((a, b) => a - b),
    );
    expect(padding(grouped)).toBeLessThan(padding(plain) / 2);
  });

  it('collates chosen rows then rejected rows', () => {
    const batch = new PreferenceBatches(table(3), { ...options, shuffle: false, batchSize: 3 }).collate([0, 1, 2]);
    expect(batch.pairs).toBe(3);
    expect(batch.inputIds.length).toBe(6 * batch.seqLen);
    expect(batch.inputIds[0]).toBe(10); // row 0: prompt then chosen
    expect(batch.inputIds[3 * batch.seqLen + 1]).toBe(90); // row 3 = rejected of pair 0: prompt (1 token) then rejected
  });
});
