// This process's part in data-parallel training, as the HF Trainer runs under torchrun with accelerate: a worker
// started with torchrun's variables (launch-env.ts) joins the c10d group by itself, shards every epoch's batches
// (shard-batches.ts), averages gradients through the model's attachment (NativeProcessGroup.attach) and sums what
// the metrics need over the ranks. A plain run is the world of one: every method is then the identity, with no
// group and no communication.
import { AlignkitError, fromNative } from '../errors.js';
import { setNumThreads } from '../info.js';
import type { Model } from '../model.js';
import { native, type NativeProcessGroup } from '../native.js';
import type { GradientSyncStats } from '../types/runtime.js';
import type { EpochBatches } from '../data/epoch-batches.js';
import { distributedEnv, threadsPerWorker, type DistributedEnv } from './launch-env.js';
import { ShardedEpochBatches } from './shard-batches.js';

export type { GradientSyncStats };

/** The TrainingArguments fields data parallelism reads. */
export interface DataParallelConfig {
  ddp_timeout: number;
  ddp_bucket_cap_mb: number | null;
  ddp_backend: 'gloo' | 'nccl' | null;
  use_cpu: boolean;
}

/** What the training loop reads of a batch table: EpochBatches, or its shard. */
export type Batches<Batch> = Pick<EpochBatches<Batch>, 'rows' | 'length' | 'order' | 'collate' | 'epoch'>;

export class DataParallel {
  /** One process, no group. */
  static readonly single = new DataParallel(null, null);

  readonly #group: NativeProcessGroup | null;
  readonly env: DistributedEnv | null;

  private constructor(group: NativeProcessGroup | null, env: DistributedEnv | null) {
    this.#group = group;
    this.env = env;
  }

  /**
   * Joins the job torchrun's variables describe (rank 0 hosts the rendezvous), or returns {@link single} when they
   * are unset or say WORLD_SIZE=1. Threads per worker default to cores / LOCAL_WORLD_SIZE unless OMP_NUM_THREADS is set.
   * The config's fields default as TrainingArguments'. train() joins by itself; a script that wants the group (its
   * gradientSyncStats) joins first and passes it as TrainOptions.dataParallel.
   */
  static async join(
    options: Partial<DataParallelConfig> = {},
    env: NodeJS.ProcessEnv = process.env,
  ): Promise<DataParallel> {
    const config: DataParallelConfig = {
      ddp_timeout: 1800,
      ddp_bucket_cap_mb: null,
      ddp_backend: null,
      use_cpu: false,
      ...options,
    };
    const job = distributedEnv(env);
    if (!job || job.worldSize === 1) return DataParallel.single;
    if (env.OMP_NUM_THREADS === undefined) setNumThreads(threadsPerWorker(job.localWorldSize));
    const cuda = config.ddp_backend === 'nccl' || (config.ddp_backend === null && trainsOnCuda(config));
    if (cuda && !trainsOnCuda(config)) {
      throw new AlignkitError(
        'ERR_INVALID_CONFIG',
        'config: ddp_backend nccl needs training on CUDA (a CUDA build and use_cpu: false)',
      );
    }
    const group = await native()
      .NativeProcessGroup.connect({
        rank: job.rank,
        worldSize: job.worldSize,
        masterAddr: job.masterAddr,
        masterPort: job.masterPort,
        timeoutMs: config.ddp_timeout * 1000,
        cuda,
        localRank: job.localRank,
      })
      .catch(fromNative);
    return new DataParallel(group, job);
  }

  get rank(): number {
    return this.env?.rank ?? 0;
  }

  get worldSize(): number {
    return this.env?.worldSize ?? 1;
  }

  /** Rank 0: the one process that writes logs, checkpoints and the final model. */
  get isMain(): boolean {
    return this.rank === 0;
  }

  /** DistributedDataParallel(model): rank 0's weights on every rank, then gradients averaged at each synced step. */
  async attach(model: Model, config: Pick<DataParallelConfig, 'ddp_bucket_cap_mb'>): Promise<void> {
    if (!this.#group) return;
    await this.#group
      .attach(model.nativeHandle(), { bucketCapMb: config.ddp_bucket_cap_mb ?? undefined })
      .catch(fromNative);
  }

  /** This rank's batches of each epoch (accelerate's BatchSamplerShard). */
  shard<Batch>(batches: EpochBatches<Batch>): Batches<Batch> {
    if (!this.#group) return batches;
    return new ShardedEpochBatches(batches, { numProcesses: this.worldSize, processIndex: this.rank });
  }

  /** @internal The native group handle (null for one process), for collectives that live in native objects (ZeRO). */
  nativeGroup(): NativeProcessGroup | null {
    return this.#group;
  }

  /**
   * This rank's contiguous block of `rows` rows, rows [first, end), for work split by rows and gathered after
   * ({@link gather}); every block is `size` long, the last one padded.
   */
  rowBlock(rows: number): { first: number; end: number; size: number } {
    const size = Math.ceil(rows / this.worldSize);
    const first = Math.min(this.rank * size, rows);
    return { first, end: Math.min(first + size, rows), size };
  }

  /** Element-wise sums over the ranks. */
  async sum(values: number[]): Promise<number[]> {
    if (!this.#group) return values;
    return Array.from(await this.#group.allReduceSum(Float64Array.from(values)).catch(fromNative));
  }

  /** Every rank's `values` (the same length on each) concatenated in rank order. */
  async gather(values: Float32Array): Promise<Float32Array> {
    if (!this.#group) return values;
    return this.#group.allGather(values).catch(fromNative);
  }

  /** Every rank's string, in rank order. */
  async gatherStrings(value: string): Promise<string[]> {
    if (!this.#group) return [value];
    return this.#group.allGatherStrings(value).catch(fromNative);
  }

  /**
   * Every rank must train with the same settings: a key that differs from rank 0's is an error on every rank,
   * naming the rank and the key.
   */
  async checkSameConfig(config: object): Promise<void> {
    if (!this.#group) return;
    const all = (await this.gatherStrings(JSON.stringify(config))).map(
      (text) => JSON.parse(text) as Record<string, unknown>,
    );
    all.forEach((other, rank) => {
      const keys = new Set([...Object.keys(all[0]!), ...Object.keys(other)]);
      for (const key of keys) {
        const [a, b] = [JSON.stringify(all[0]![key]), JSON.stringify(other[key])];
        if (a !== b) {
          throw new AlignkitError(
            'ERR_INVALID_CONFIG',
            `config: rank ${rank} has ${key}: ${b ?? 'unset'} but rank 0 has ${a ?? 'unset'}; every rank must train with the same config`,
          );
        }
      }
    });
  }

  /** Waits until every rank gets here. */
  async barrier(): Promise<void> {
    await this.gatherStrings('');
  }

  /** `work` on rank 0 first, then on the others (accelerate's main_process_first: rank 0 fills a cache the rest read). */
  async mainFirst<T>(work: () => Promise<T>): Promise<T> {
    if (this.isMain) {
      const result = await work();
      await this.barrier();
      return result;
    }
    await this.barrier();
    return work();
  }

  /** What averaging gradients has cost this rank so far (none for one process). */
  gradientSyncStats(): GradientSyncStats {
    return this.#group?.gradientSyncStats() ?? { syncs: 0, allReduces: 0, waitSeconds: 0 };
  }

  /**
   * Leaves the group, every rank after its last collective: `finished` after a run that ended well (rank 0, which
   * hosts the rendezvous store, then waits for the others to leave), false after a failure (nobody waits).
   */
  async close(finished = true): Promise<void> {
    await this.#group?.close(finished).catch(fromNative);
  }
}

function trainsOnCuda(config: Pick<DataParallelConfig, 'use_cpu'>): boolean {
  return !config.use_cpu && native().runtimeInfo().cudaAvailable;
}
