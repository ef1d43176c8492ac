// Each data-parallel process's share of an epoch, as the HF Trainer hands it out: its train dataloader goes
// through accelerate's prepare_data_loader, whose BatchSamplerShard (split_batches=False, even_batches=True) gives
// batch i to process i % numProcesses. A port of BatchSamplerShard._iter_with_no_split and __len__
// (accelerate/data_loader.py), so every process takes the same number of full batches and the gradient
// all-reduce never waits on a process that ran out.
import type { EpochBatches } from '../data/epoch-batches.js';
import { AlignkitError } from '../errors.js';

export interface ShardOptions {
  /** Rows per batch (per_device_train_batch_size); only the last of `batches` may be shorter. */
  batchSize: number;
  numProcesses: number;
  /** This process's rank, 0 ≤ processIndex < numProcesses. */
  processIndex: number;
  dropLast: boolean;
}

/** The batches of `batches` (one epoch, in order) that process `processIndex` trains on, in order. */
export function shardBatches(batches: readonly number[][], options: ShardOptions): number[][] {
  const { batchSize, numProcesses, processIndex, dropLast } = options;
  checkProcess(numProcesses, processIndex);
  const shard: number[][] = [];
  // A batch is taken only once its whole round is full, so an incomplete last round is settled below.
  let pending: readonly number[] | null = null;
  for (let idx = 0; idx < batches.length; idx++) {
    const batch = batches[idx]!;
    if (idx % numProcesses === processIndex) pending = batch;
    if (idx % numProcesses === numProcesses - 1 && batch.length === batchSize) {
      shard.push([...pending!]);
      pending = null;
    }
  }
  if (dropLast || batches.length === 0) return shard;

  if (pending && pending.length === batchSize) shard.push([...pending]);
  // The last round is completed from the epoch's first rows (those of its first numProcesses batches),
  // repeated when the whole epoch is smaller than one round.
  let initial = batches.slice(0, numProcesses).flat();
  while (initial.length < numProcesses * batchSize) initial = initial.concat(initial);

  let idx = batches.length - 1;
  let batch = [...batches[idx]!];
  if (batch.length === batchSize) {
    batch = [];
    idx += 1;
  }
  let cycle = 0;
  while (idx % numProcesses !== 0 || batch.length > 0) {
    const end = cycle + batchSize - batch.length;
    batch = batch.concat(initial.slice(cycle, end));
    if (idx % numProcesses === processIndex) shard.push(batch);
    cycle = end;
    batch = [];
    idx += 1;
  }
  return shard;
}

/** Batches per process per epoch, given the epoch's `numBatches` (BatchSamplerShard.__len__, even_batches). */
export function shardedLength(numBatches: number, numProcesses: number, dropLast: boolean): number {
  checkProcess(numProcesses, 0);
  const rounds = Math.floor(numBatches / numProcesses);
  return numBatches % numProcesses === 0 || dropLast ? rounds : rounds + 1;
}

/**
 * One process's view of an EpochBatches: the same seeded epoch order on every process, of which this one
 * trains on its shard. Rows are indexed as in the inner table, so collate is the inner one. With one process
 * it is the inner batches unchanged: prepare_data_loader wraps only when num_processes != 1 (BatchSamplerShard
 * itself would pad a short last batch).
 */
export class ShardedEpochBatches<Batch> {
  readonly #inner: EpochBatches<Batch>;
  readonly #numProcesses: number;
  readonly #processIndex: number;

  constructor(inner: EpochBatches<Batch>, options: { numProcesses: number; processIndex: number }) {
    checkProcess(options.numProcesses, options.processIndex);
    this.#inner = inner;
    this.#numProcesses = options.numProcesses;
    this.#processIndex = options.processIndex;
  }

  /** Rows of the whole table, as in the inner batches (samples seen per epoch count every process). */
  get rows(): number {
    return this.#inner.rows;
  }

  /** This process's batches per epoch. */
  get length(): number {
    if (this.#numProcesses === 1) return this.#inner.length;
    return shardedLength(this.#inner.length, this.#numProcesses, this.#inner.dropLast);
  }

  order(epoch: number): number[][] {
    if (this.#numProcesses === 1) return this.#inner.order(epoch);
    const { batchSize, dropLast } = this.#inner;
    return shardBatches(this.#inner.order(epoch), {
      batchSize,
      dropLast,
      numProcesses: this.#numProcesses,
      processIndex: this.#processIndex,
    });
  }

  collate(indices: readonly number[]): Batch {
    return this.#inner.collate(indices);
  }

  *epoch(epoch: number): Generator<Batch> {
    for (const indices of this.order(epoch)) yield this.collate(indices);
  }
}

function checkProcess(numProcesses: number, processIndex: number): void {
  if (!Number.isInteger(numProcesses) || numProcesses < 1) {
    throw new AlignkitError('ERR_INVALID_ARG', `numProcesses: expected an integer ≥ 1, got ${numProcesses}`);
  }
  if (!Number.isInteger(processIndex) || processIndex < 0 || processIndex >= numProcesses) {
    throw new AlignkitError(
      'ERR_INVALID_ARG',
      `processIndex: expected an integer in [0, ${numProcesses - 1}], got ${processIndex}`,
    );
  }
}
