// The training loop's view of a tokenized preference table: per epoch, a seeded order of rows cut into
// batches, each collated into the contiguous buffers the native step reads.
import type { Table } from 'apache-arrow';
import { collatePreference, type CollateOptions, type PreferenceBatch, type PreferenceColumns } from './preference-collator.js';
import { rowLengths } from './length-stats.js';
import { batchesOf, epochOrder } from './sampler.js';
import { idColumn } from './token-table.js';

export interface PreferenceBatchOptions extends CollateOptions {
  batchSize: number;
  seed: number;
  shuffle: boolean;
  /** Batch rows of similar length together (less padding). */
  groupByLength: boolean;
  dropLast: boolean;
}

export class PreferenceBatches {
  readonly #columns: PreferenceColumns;
  readonly #lengths: Int32Array;
  readonly #options: PreferenceBatchOptions;

  constructor(table: Table, options: PreferenceBatchOptions) {
    this.#columns = {
      prompt: idColumn(table, 'prompt_ids'),
      chosen: idColumn(table, 'chosen_ids'),
      rejected: idColumn(table, 'rejected_ids'),
    };
    const prompt = rowLengths(this.#columns.prompt);
    const chosen = rowLengths(this.#columns.chosen);
    const rejected = rowLengths(this.#columns.rejected);
    this.#lengths = prompt.map((p, i) => p + Math.max(chosen[i]!, rejected[i]!));
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

  collate(indices: readonly number[]): PreferenceBatch {
    return collatePreference(this.#columns, indices, this.#options);
  }

  *epoch(epoch: number): Generator<PreferenceBatch> {
    for (const indices of this.order(epoch)) yield this.collate(indices);
  }
}
