// pack_dataset's own examples (trl/data_utils.py docstring) and datasets' map batches / contiguous shards.
import { describe, expect, it } from 'vitest';
import { mapBatches, packBatch } from '../../../src/data/sft/pack-sft.js';

const rows = [[1, 2, 3, 4, 5], [6, 7], [8, 9, 10], [11]].map((ids) => ({ input_ids: ids, labels: ids.map((i) => -i) }));

describe('packBatch (TRL pack_dataset docstring)', () => {
  it('bfd cuts long sequences and fits the rest best-first', () => {
    expect(packBatch(rows, 4, 'bfd')).toEqual([
      { input_ids: [1, 2, 3, 4], labels: [-1, -2, -3, -4], seq_lengths: [4] },
      { input_ids: [8, 9, 10, 11], labels: [-8, -9, -10, -11], seq_lengths: [3, 1] },
      { input_ids: [6, 7], labels: [-6, -7], seq_lengths: [2] },
    ]);
  });

  it('bfd_split packs the overflow too', () => {
    expect(packBatch(rows, 4, 'bfd_split').map((r) => [r.input_ids, r.seq_lengths])).toEqual([
      [[1, 2, 3, 4], [4]],
      [
        [8, 9, 10, 5],
        [3, 1],
      ],
      [
        [6, 7, 11],
        [2, 1],
      ],
    ]);
  });

  it('wrapped ignores boundaries and records no sequence lengths', () => {
    expect(packBatch(rows, 4, 'wrapped').map((r) => [r.input_ids, r.seq_lengths])).toEqual([
      [[1, 2, 3, 4], undefined],
      [[5, 6, 7, 8], undefined],
      [[9, 10, 11], undefined],
    ]);
  });

  it('drops empty sequences (bfd) and refuses labels of another length', () => {
    expect(packBatch([{ input_ids: [], labels: [] }, rows[1]!], 4, 'bfd')).toHaveLength(1);
    expect(() => packBatch([{ input_ids: [1, 2], labels: [1] }], 4, 'bfd')).toThrow(/same length/);
  });
});

describe('mapBatches', () => {
  it('cuts 1,000-row batches inside contiguous shards, as Dataset.map(num_proc) does', () => {
    expect(mapBatches(2500, null)).toEqual([
      [0, 1000],
      [1000, 2000],
      [2000, 2500],
    ]);
    expect(mapBatches(2500, 2)).toEqual([
      [0, 1000],
      [1000, 1250],
      [1250, 2250],
      [2250, 2500],
    ]);
    expect(mapBatches(7, 3, 2)).toEqual([
      [0, 2],
      [2, 3],
      [3, 5],
      [5, 7],
    ]);
    expect(mapBatches(2, 8)).toEqual([
      [0, 1],
      [1, 2],
    ]);
    expect(mapBatches(0, 4)).toEqual([]);
  });
});
