// The data-parallel launcher, torchrun's job on one node: start nproc_per_node workers with torchrun's variables
// (launch-env.ts), show their output prefixed by rank, and supervise them. The job succeeds when every worker exits
// 0; the first worker that fails stops the others (SIGTERM, then SIGKILL after a grace period), since the rest would
// only wait for it in their next collective. Abort (Ctrl-C) forwards one SIGINT: workers finish the optimizer step,
// save a checkpoint and exit 130.
import { type ChildProcess, spawn } from 'node:child_process';
import { AlignkitError } from '../errors.js';
import { threadsPerWorker, workerEnv } from './launch-env.js';
import { checkMasterPortFree } from './master-port.js';
import { copyPrefixedLines, LineTail } from './worker-output.js';

/** One node of a data-parallel job, under torchrun's names (camelCased). */
export interface LaunchOptions {
  /** Workers to start on this node (one per device, or per share of the CPU cores). */
  nprocPerNode: number;
  /** Nodes in the job. */
  nnodes: number;
  /** This node's index, 0..nnodes-1; node 0 hosts rank 0 and its rendezvous store. */
  nodeRank: number;
  /** Address of node 0, where rank 0's rendezvous store listens. */
  masterAddr: string;
  /** Port of the rendezvous store (node 0 checks it is free before starting workers). */
  masterPort: number;
  /** argv of one worker, e.g. [process.execPath, cliPath, 'train', 'config.yaml']. */
  command: string[];
  /** Aborting sends SIGINT to every worker once and waits for them (they save a checkpoint and exit 130). */
  signal?: AbortSignal;
  /** How long workers stopped after a failure get between SIGTERM and SIGKILL (default 5000 ms). */
  stopGraceMs?: number;
  /** 'prefix' (default): worker output through the launcher, each line as `[rank N] ...`; 'inherit': the terminal's. */
  stdio?: 'inherit' | 'prefix';
}

/** Lines of a failed worker's stderr quoted in the error. */
const TAIL_LINES = 20;
/** A worker's exit code after SIGINT: it saved a checkpoint and stopped (128 + SIGINT). */
const STOPPED_BY_SIGINT = 130;

interface Worker {
  rank: number;
  child: ChildProcess;
  /** Undefined with stdio 'inherit': stderr went straight to the terminal. */
  tail?: LineTail;
  /** Set on exit (or spawn failure); a worker with it unset still runs. */
  exit?: { code: number | null; signal: NodeJS.Signals | null; error?: Error };
  /** Resolves once the process is gone and its output is copied. */
  closed: Promise<void>;
}

/**
 * Runs one node of the job and resolves with its exit code: 0 when every worker exited 0, 130 when they stopped
 * after an abort (checkpoint saved). A failed worker rejects with ERR_WORKER_FAILED naming its rank, pid, exit code
 * or signal and the end of its stderr, once the other workers are stopped.
 */
export async function launch(options: LaunchOptions): Promise<number> {
  validateLaunchOptions(options);
  if (options.nodeRank === 0) await checkMasterPortFree(options.masterAddr, options.masterPort);
  if (options.signal?.aborted) return STOPPED_BY_SIGINT;
  const threads = { OMP_NUM_THREADS: process.env.OMP_NUM_THREADS ?? String(threadsPerWorker(options.nprocPerNode)) };
  const workers = Array.from({ length: options.nprocPerNode }, (_, localRank) =>
    startWorker(options, { ...process.env, ...threads, ...workerEnv(options, localRank) }),
  );
  return supervise(workers, options.signal, options.stopGraceMs ?? 5000);
}

function startWorker(options: LaunchOptions, env: NodeJS.ProcessEnv): Worker {
  const rank = Number(env.RANK);
  const prefix = (options.stdio ?? 'prefix') === 'prefix';
  // Its own process group: the terminal's Ctrl-C reaches only the launcher, which forwards it once, and stopping a
  // worker stops whatever it started.
  const child = spawn(options.command[0]!, options.command.slice(1), {
    env,
    stdio: ['ignore', prefix ? 'pipe' : 'inherit', prefix ? 'pipe' : 'inherit'],
    detached: process.platform !== 'win32',
  });
  const worker: Worker = {
    rank,
    child,
    tail: prefix ? new LineTail(TAIL_LINES) : undefined,
    closed: Promise.resolve(),
  };
  const output = prefix
    ? [
        copyPrefixedLines(child.stdout!, rank, process.stdout),
        copyPrefixedLines(child.stderr!, rank, process.stderr, worker.tail),
      ]
    : [];
  const gone = new Promise<void>((resolve) => child.once('close', () => resolve()));
  worker.closed = Promise.all([gone, ...output]).then(() => undefined);
  return worker;
}

function supervise(workers: Worker[], signal: AbortSignal | undefined, graceMs: number): Promise<number> {
  let interrupted = false;
  let failed: Worker | undefined;
  let killTimer: NodeJS.Timeout | undefined;
  const running = () => workers.filter((w) => !w.exit);
  const send = (sig: NodeJS.Signals) => {
    for (const w of running()) signalGroup(w.child, sig);
  };

  const onAbort = () => {
    interrupted = true;
    send('SIGINT');
  };
  // If the launcher itself goes (a second Ctrl-C, process.exit), its workers go with it.
  const onExit = () => send('SIGKILL');
  signal?.addEventListener('abort', onAbort, { once: true });
  process.once('exit', onExit);

  const onWorkerExit = (w: Worker, exit: NonNullable<Worker['exit']>) => {
    if (w.exit) return;
    w.exit = exit;
    const clean = exit.code === 0 || (interrupted && exit.code === STOPPED_BY_SIGINT);
    if (clean || failed) return;
    failed = w;
    send('SIGTERM');
    killTimer = setTimeout(() => send('SIGKILL'), graceMs);
  };
  for (const w of workers) {
    w.child.on('exit', (code, sig) => onWorkerExit(w, { code, signal: sig }));
    w.child.on('error', (error) => onWorkerExit(w, { code: null, signal: null, error }));
  }

  return Promise.all(workers.map((w) => w.closed)).then(() => {
    clearTimeout(killTimer);
    signal?.removeEventListener('abort', onAbort);
    process.off('exit', onExit);
    if (failed) throw workerFailed(failed, workers.length);
    return workers.some((w) => w.exit?.code === STOPPED_BY_SIGINT) ? STOPPED_BY_SIGINT : 0;
  });
}

/** Signals the worker's process group (the worker and what it started); a group already gone is fine. */
function signalGroup(child: ChildProcess, sig: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    if (process.platform === 'win32') child.kill(sig);
    else process.kill(-child.pid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

function workerFailed(w: Worker, count: number): AlignkitError {
  const { code, signal, error } = w.exit!;
  const how = error
    ? `could not start (${error.message})`
    : signal
      ? `was killed by signal ${signal}`
      : `exited with code ${code}`;
  const others = count > 1 ? '; the other workers were stopped' : '';
  const tail = !w.tail
    ? ' (its stderr went to the terminal)'
    : w.tail.lines.length === 0
      ? ' (its stderr was empty)'
      : `; the last lines of its stderr:\n${w.tail.lines.map((line) => `  ${line}`).join('\n')}`;
  return new AlignkitError(
    'ERR_WORKER_FAILED',
    `worker rank ${w.rank} (pid ${w.child.pid ?? '-'}) ${how}${others}${tail}`,
  );
}

/** Throws ERR_INVALID_ARG naming the first option out of range (under torchrun's name), as launch does first. */
export function validateLaunchOptions(o: LaunchOptions): void {
  const integer = (name: string, value: number, min: number, max = Infinity, why = '') => {
    if (!Number.isInteger(value) || value < min || value > max) {
      const range = max === Infinity ? `>= ${min}` : `in ${min}..${max}`;
      throw new AlignkitError('ERR_INVALID_ARG', `${name}: expected an integer ${range}${why}, got ${value}`);
    }
  };
  integer('nproc_per_node', o.nprocPerNode, 1);
  integer('nnodes', o.nnodes, 1);
  integer('node_rank', o.nodeRank, 0, o.nnodes - 1, ` (below nnodes=${o.nnodes})`);
  integer('master_port', o.masterPort, 1, 65535);
  if (o.stopGraceMs !== undefined) integer('stopGraceMs', o.stopGraceMs, 0);
  if (typeof o.masterAddr !== 'string' || o.masterAddr.trim() === '') {
    throw new AlignkitError(
      'ERR_INVALID_ARG',
      `master_addr: expected a host name or address, got ${JSON.stringify(o.masterAddr)}`,
    );
  }
  if (!Array.isArray(o.command) || o.command.length === 0 || !o.command.every((a) => typeof a === 'string')) {
    throw new AlignkitError(
      'ERR_INVALID_ARG',
      'command: expected the argv of one worker, a non-empty array of strings',
    );
  }
}
