// Each process's share of an epoch is what accelerate's BatchSamplerShard hands it under the HF Trainer: recorded
// from accelerate itself (scripts/fixtures/make_batch_shards.py) for a grid of rows, batch sizes, process counts
// and drop_last, the degenerate epochs smaller than one round included.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EpochBatches, type EpochOptions } from '../../src/data/epoch-batches.js';
import { ShardedEpochBatches, shardBatches, shardedLength } from '../../src/distributed/shard-batches.js';
import { fixturesDir } from '../helpers/fixtures.js';

interface Case {
  rows: number;
  batch_size: number;
  num_processes: number;
  drop_last: boolean;
  batches: number[][];
  shards: { process_index: number; batches: number[][]; length: number }[];
}
const { cases } = JSON.parse(readFileSync(join(fixturesDir, 'distributed', 'batch_shards.json'), 'utf8')) as {
  cases: Case[];
};

describe('shardBatches', () => {
  it.each(
    cases.map(
      (c) =>
        [`${c.rows} rows, batch ${c.batch_size}, ${c.num_processes} processes, drop_last ${c.drop_last}`, c] as const,
    ),
  )('%s: as BatchSamplerShard', (_, c) => {
    for (const shard of c.shards) {
      const options = {
        batchSize: c.batch_size,
        numProcesses: c.num_processes,
        processIndex: shard.process_index,
        dropLast: c.drop_last,
      };
      expect(shardBatches(c.batches, options)).toEqual(shard.batches);
      expect(shardedLength(c.batches.length, c.num_processes, c.drop_last)).toBe(shard.length);
    }
  });

  it('leaves its input unchanged', () => {
    const batches = [[0, 1], [2]];
    shardBatches(batches, { batchSize: 2, numProcesses: 2, processIndex: 1, dropLast: false });
    expect(batches).toEqual([[0, 1], [2]]);
  });

  it('names the bad process option', () => {
    const options = { batchSize: 2, numProcesses: 2, processIndex: 0, dropLast: false };
    expect(() => shardBatches([], { ...options, numProcesses: 0 })).toThrow(
      'numProcesses: expected an integer ≥ 1, got 0',
    );
    expect(() => shardBatches([], { ...options, processIndex: 2 })).toThrow(
      'processIndex: expected an integer in [0, 1], got 2',
    );
    expect(() => shardedLength(4, 1.5, false)).toThrow('numProcesses');
  });
});

describe('ShardedEpochBatches', () => {
  const options: EpochOptions = { batchSize: 4, seed: 42, shuffle: true, groupByLength: false, dropLast: false };
  const table = (rows: number, opts: EpochOptions) =>
    new EpochBatches(new Int32Array(rows).fill(1), opts, (indices) => [...indices]);
  const ranks = (inner: EpochBatches<number[]>) =>
    [0, 1].map((processIndex) => new ShardedEpochBatches(inner, { numProcesses: 2, processIndex }));

  it('with one process is the inner batches', () => {
    const inner = table(37, options);
    // The surface the training loop reads, so it takes either.
    const sharded: Pick<
      EpochBatches<number[]>,
      'rows' | 'length' | 'order' | 'collate' | 'epoch'
    > = new ShardedEpochBatches(inner, { numProcesses: 1, processIndex: 0 });
    expect(sharded.rows).toBe(37);
    expect(sharded.length).toBe(inner.length);
    for (const epoch of [0, 1]) expect(sharded.order(epoch)).toEqual(inner.order(epoch));
    expect([...sharded.epoch(1)]).toEqual([...inner.epoch(1)]);
  });

  it('2 processes x batch 4 split each shuffled batch of 8 of one process: rank 0 its first half', () => {
    for (const epoch of [0, 1, 2]) {
      const whole = table(40, { ...options, batchSize: 8 }).order(epoch);
      const [rank0, rank1] = ranks(table(40, options));
      expect(rank0!.length).toBe(5);
      expect(rank1!.length).toBe(5);
      expect(rank0!.order(epoch)).toEqual(whole.map((b) => b.slice(0, 4)));
      expect(rank1!.order(epoch)).toEqual(whole.map((b) => b.slice(4)));
      expect([...rank1!.epoch(epoch)]).toEqual(rank1!.order(epoch));
    }
    expect(table(40, options).order(0).flat()).not.toEqual(Array.from({ length: 40 }, (_, i) => i)); // shuffled
  });

  it("completes a short last round from the epoch's first rows, as the Trainer does", () => {
    // 37 rows: batches of 8 are 8,8,8,8,5; of 4 per rank, rank 1's last takes row 36's batch and 3 rows from the start.
    const whole = table(37, { ...options, batchSize: 8 }).order(0);
    const [rank0, rank1] = ranks(table(37, options));
    const first = whole[0]!;
    expect(rank0!.length).toBe(5);
    expect(rank0!.order(0)).toEqual(whole.map((b) => b.slice(0, 4)));
    expect(rank1!.order(0)).toEqual([
      ...whole.slice(0, 4).map((b) => b.slice(4)),
      [whole[4]![4]!, ...first.slice(0, 3)],
    ]);
    const dropped = ranks(table(37, { ...options, dropLast: true }));
    expect(dropped.map((r) => r.order(0))).toEqual([
      whole.slice(0, 4).map((b) => b.slice(0, 4)),
      whole.slice(0, 4).map((b) => b.slice(4)),
    ]);
    expect(dropped[0]!.length).toBe(4);
  });
});
