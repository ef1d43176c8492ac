// The training loop's view of a tokenized SFT table: per epoch, a seeded order of rows cut into batches, each
// collated into the contiguous buffers the native step reads.
import type { Table } from 'apache-arrow';
import { rowLengths } from '../length-stats.js';
import { batchesOf, epochOrder } from '../sampler.js';
import { collateSft, sftColumns, type SftBatch, type SftCollateOptions, type SftColumns } from './sft-collator.js';

export interface SftBatchOptions extends SftCollateOptions {
  batchSize: number;
  seed: number;
  shuffle: boolean;
  /** Batch rows of similar length together (less padding). */
  groupByLength: boolean;
  dropLast: boolean;
}

export class SftBatches {
  readonly #columns: SftColumns;
  readonly #lengths: Int32Array;
  readonly #options: SftBatchOptions;

  constructor(table: Table, options: SftBatchOptions) {
    this.#columns = sftColumns(table);
    this.#lengths = rowLengths(this.#columns.inputIds);
    this.#options = options;
  }

  get rows(): number {
    return this.#lengths.length;
  }

  /** Batches per epoch. */
  get length(): number {
    const { batchSize, dropLast } = this.#options;
    return dropLast ? Math.floor(this.rows / batchSize) : Math.ceil(this.rows / batchSize);
  }

  /** The row indices of each batch of `epoch`, in order; the same seed and epoch give the same batches. */
  order(epoch: number): number[][] {
    const { seed, shuffle, groupByLength, batchSize, dropLast } = this.#options;
    const order = epochOrder(this.rows, { seed, epoch, shuffle, batchSize, lengths: groupByLength ? this.#lengths : undefined });
    return batchesOf(order, batchSize, dropLast);
  }

  collate(indices: readonly number[]): SftBatch {
    return collateSft(this.#columns, indices, this.#options);
  }

  *epoch(epoch: number): Generator<SftBatch> {
    for (const indices of this.order(epoch)) yield this.collate(indices);
  }
}
