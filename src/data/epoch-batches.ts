// The training loop's view of a tokenized table: per epoch, a seeded order of rows cut into batches, each
// collated into the contiguous buffers the native step reads. The table kinds differ only in how a row's
// length is counted and how a batch is collated.
import { batchesOf, epochOrder } from './sampler.js';

export interface EpochOptions {
  batchSize: number;
  seed: number;
  shuffle: boolean;
  /** Batch rows of similar length together (less padding). */
  groupByLength: boolean;
  dropLast: boolean;
}

export class EpochBatches<Batch> {
  readonly #lengths: Int32Array;
  readonly #options: EpochOptions;
  readonly #collate: (indices: readonly number[]) => Batch;

  constructor(lengths: Int32Array, options: EpochOptions, collate: (indices: readonly number[]) => Batch) {
    this.#lengths = lengths;
    this.#options = options;
    this.#collate = collate;
  }

  get rows(): number {
    return this.#lengths.length;
  }

  get batchSize(): number {
    return this.#options.batchSize;
  }

  get dropLast(): boolean {
    return this.#options.dropLast;
  }

  /** Batches per epoch. */
  get length(): number {
    const { batchSize, dropLast } = this.#options;
    return dropLast ? Math.floor(this.rows / batchSize) : Math.ceil(this.rows / batchSize);
  }

  /** The row indices of each batch of `epoch`, in order; the same seed and epoch give the same batches. */
  order(epoch: number): number[][] {
    const { seed, shuffle, groupByLength, batchSize, dropLast } = this.#options;
    const order = epochOrder(this.rows, {
      seed,
      epoch,
      shuffle,
      batchSize,
      lengths: groupByLength ? this.#lengths : undefined,
    });
    return batchesOf(order, batchSize, dropLast);
  }

  collate(indices: readonly number[]): Batch {
    return this.#collate(indices);
  }

  *epoch(epoch: number): Generator<Batch> {
    for (const indices of this.order(epoch)) yield this.collate(indices);
  }
}

/**
 * A recipe's train and eval batches from its tokenized tables: train rows in `shuffle` order with the train batch
 * size, eval rows in order with the eval batch size, and no eval batches (nor eval table read) unless it evaluates.
 */
export async function splitBatches<Table, Options, Batches>(
  make: (table: Table, options: Options & Pick<EpochOptions, 'batchSize' | 'shuffle'>) => Batches,
  table: (split: 'train' | 'eval') => Promise<Table>,
  options: Options,
  split: { trainBatchSize: number; evalBatchSize: number; shuffle: boolean; evaluates: boolean },
): Promise<{ trainBatches: Batches; evalBatches: Batches | null }> {
  const trainBatches = make(await table('train'), {
    ...options,
    batchSize: split.trainBatchSize,
    shuffle: split.shuffle,
  });
  const evalBatches = split.evaluates
    ? make(await table('eval'), { ...options, batchSize: split.evalBatchSize, shuffle: false })
    : null;
  return { trainBatches, evalBatches };
}
