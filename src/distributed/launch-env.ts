// torchrun's contract with a worker: the environment variables that say which process of the job this is and where
// the job's rendezvous store listens. The launcher writes them (workerEnv), a worker reads them (distributedEnv).
import os from 'node:os';
import { AlignkitError } from '../errors.js';

/** Where one worker stands in a data-parallel job, as torchrun's variables say. */
export interface DistributedEnv {
  /** RANK: this worker's index in the whole job, 0 <= rank < worldSize. */
  rank: number;
  /** WORLD_SIZE: workers in the job (nnodes * nproc_per_node). */
  worldSize: number;
  /** LOCAL_RANK: this worker's index on its node. */
  localRank: number;
  /** LOCAL_WORLD_SIZE: workers on this node (nproc_per_node). */
  localWorldSize: number;
  /** MASTER_ADDR: host of rank 0, where the rendezvous store listens. */
  masterAddr: string;
  /** MASTER_PORT: port of the rendezvous store. */
  masterPort: number;
}

/**
 * The job this process is a worker of, read from torchrun's variables (set by `alignkit train --nproc_per_node`,
 * torchrun, or by hand); null when WORLD_SIZE is unset (not launched as a worker). Once WORLD_SIZE is set every
 * variable is required: a missing or malformed one is an ERR_INVALID_ENV naming it.
 */
export function distributedEnv(env: NodeJS.ProcessEnv = process.env): DistributedEnv | null {
  if (env.WORLD_SIZE === undefined) return null;
  const worldSize = integerVar(env, 'WORLD_SIZE', 1, Infinity);
  const localWorldSize = integerVar(env, 'LOCAL_WORLD_SIZE', 1, worldSize, `at most WORLD_SIZE=${worldSize}`);
  const masterAddr = env.MASTER_ADDR?.trim();
  if (!masterAddr) throw invalidEnv('MASTER_ADDR', 'the host name or address of rank 0', env.MASTER_ADDR);
  return {
    rank: integerVar(env, 'RANK', 0, worldSize - 1, `below WORLD_SIZE=${worldSize}`),
    worldSize,
    localRank: integerVar(env, 'LOCAL_RANK', 0, localWorldSize - 1, `below LOCAL_WORLD_SIZE=${localWorldSize}`),
    localWorldSize,
    masterAddr,
    masterPort: integerVar(env, 'MASTER_PORT', 1, 65535),
  };
}

/** torchrun's variables for the worker `localRank` of node `nodeRank` (GROUP_RANK is the node's index). */
export function workerEnv(
  job: { nprocPerNode: number; nnodes: number; nodeRank: number; masterAddr: string; masterPort: number },
  localRank: number,
): Record<string, string> {
  return {
    RANK: String(job.nodeRank * job.nprocPerNode + localRank),
    WORLD_SIZE: String(job.nnodes * job.nprocPerNode),
    LOCAL_RANK: String(localRank),
    LOCAL_WORLD_SIZE: String(job.nprocPerNode),
    GROUP_RANK: String(job.nodeRank),
    MASTER_ADDR: job.masterAddr,
    MASTER_PORT: String(job.masterPort),
  };
}

/** Intra-op threads for each of `localWorldSize` workers sharing this machine's cores, so they do not oversubscribe. */
export function threadsPerWorker(localWorldSize: number, cores = os.availableParallelism()): number {
  return Math.max(1, Math.floor(cores / localWorldSize));
}

function integerVar(env: NodeJS.ProcessEnv, name: string, min: number, max: number, bound?: string): number {
  const text = env[name];
  const expected =
    (max === Infinity ? `an integer >= ${min}` : `an integer in ${min}..${max}`) + (bound ? ` (${bound})` : '');
  if (text === undefined || !/^\s*\d+\s*$/.test(text)) throw invalidEnv(name, expected, text);
  const value = Number(text);
  if (value < min || value > max) throw invalidEnv(name, expected, text);
  return value;
}

function invalidEnv(name: string, expected: string, got: string | undefined): AlignkitError {
  const found = got === undefined ? 'it is unset' : `got ${JSON.stringify(got)}`;
  return new AlignkitError(
    'ERR_INVALID_ENV',
    `environment variable ${name}: expected ${expected} (torchrun's worker variables), ${found}`,
  );
}
