// DataCollatorForLanguageModeling's own examples (trl/trainer/sft_trainer.py docstring), packed position ids,
// and SftBatches' epochs. Batches of real tokenized rows are compared with TRL in preprocess-sft.test.ts.
import { describe, expect, it } from 'vitest';
import { SftBatches, type SftBatchOptions } from '../../../src/data/sft/sft-batches.js';
import { collateSft, sftColumns } from '../../../src/data/sft/sft-collator.js';
import { buildTable, IdColumnBuilder } from '../../../src/data/token-table.js';

function table(rows: { input_ids: number[]; labels?: number[]; seq_lengths?: number[] }[]) {
  const builders: Record<string, IdColumnBuilder> = { input_ids: new IdColumnBuilder(), labels: new IdColumnBuilder() };
  if (rows[0]?.seq_lengths) builders.seq_lengths = new IdColumnBuilder();
  for (const r of rows) {
    builders.input_ids!.push(r.input_ids);
    builders.labels!.push(r.labels ?? r.input_ids);
    if (r.seq_lengths) builders.seq_lengths!.push(r.seq_lengths);
  }
  return sftColumns(buildTable(builders));
}

const padded = { padTokenId: 0, paddingFree: false, padToMultipleOf: null };

describe('collateSft (TRL docstring examples)', () => {
  it('pads to the longest row, labels with -100', () => {
    const batch = collateSft(table([{ input_ids: [1, 2, 3] }, { input_ids: [4, 5] }]), [0, 1], padded);
    expect(batch).toMatchObject({ rows: 2, seqLen: 3, positionIds: null });
    expect(Array.from(batch.inputIds)).toEqual([1, 2, 3, 4, 5, 0]);
    expect(Array.from(batch.attentionMask!)).toEqual([1, 1, 1, 1, 1, 0]);
    expect(Array.from(batch.labels)).toEqual([1, 2, 3, 4, 5, -100]);
  });

  it('keeps prebuilt labels; padding-free flattens and masks each sequence start', () => {
    const columns = table([
      { input_ids: [1, 2, 3], labels: [-100, 2, 3] },
      { input_ids: [4, 5], labels: [-100, 5] },
    ]);
    expect(Array.from(collateSft(columns, [0, 1], padded).labels)).toEqual([-100, 2, 3, -100, 5, -100]);
    const flat = collateSft(columns, [0, 1], { ...padded, paddingFree: true });
    expect(flat).toMatchObject({ rows: 1, seqLen: 5, attentionMask: null });
    expect(Array.from(flat.inputIds)).toEqual([1, 2, 3, 4, 5]);
    expect(Array.from(flat.positionIds!)).toEqual([0, 1, 2, 0, 1]);
    expect(Array.from(flat.labels)).toEqual([-100, 2, 3, -100, 5]);
  });

  it('restarts positions at every packed sequence and pads to a multiple', () => {
    const columns = table([
      { input_ids: [1, 2, 3, 4], seq_lengths: [3, 1] },
      { input_ids: [5, 6], seq_lengths: [2] },
    ]);
    const flat = collateSft(columns, [0, 1], { ...padded, paddingFree: true, padToMultipleOf: 4 });
    expect(flat.seqLen).toBe(8);
    expect(Array.from(flat.positionIds!)).toEqual([0, 1, 2, 0, 0, 1, 0, 0]);
    expect(Array.from(flat.labels)).toEqual([-100, 2, 3, -100, -100, 6, -100, -100]);
    expect(Array.from(flat.inputIds)).toEqual([1, 2, 3, 4, 5, 6, 0, 0]);
    const withPositions = collateSft(columns, [0, 1], { ...padded, returnPositionIds: true });
    expect(Array.from(withPositions.positionIds!)).toEqual([0, 1, 2, 0, 0, 1, 0, 0]);
    expect(Array.from(withPositions.labels)).toEqual([1, 2, 3, 4, 5, 6, -100, -100]);
  });
});

describe('SftBatches', () => {
  const rows = Array.from({ length: 30 }, (_, i) => ({
    input_ids: Array.from({ length: 1 + ((i * 7) % 13) }, (_, t) => 10 + t),
  }));
  const builders = { input_ids: new IdColumnBuilder(), labels: new IdColumnBuilder() };
  for (const r of rows) {
    builders.input_ids.push(r.input_ids);
    builders.labels.push(r.input_ids);
  }
  const options: SftBatchOptions = {
    ...padded,
    batchSize: 4,
    seed: 42,
    shuffle: true,
    groupByLength: false,
    dropLast: false,
  };

  it('visits every row once per epoch, reproducibly, and collates each batch', () => {
    const batches = new SftBatches(buildTable(builders), options);
    expect(batches.length).toBe(8);
    const epoch0 = batches.order(0);
    expect(epoch0.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(new SftBatches(buildTable(builders), options).order(0)).toEqual(epoch0);
    expect(batches.order(1)).not.toEqual(epoch0);
    const first = [...batches.epoch(0)][0]!;
    expect(first.rows).toBe(4);
    expect(first.seqLen).toBe(Math.max(...epoch0[0]!.map((i) => rows[i]!.input_ids.length)));
  });
});
