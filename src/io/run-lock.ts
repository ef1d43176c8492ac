// One run per output_dir: a second run writing the same folder would mix checkpoints (one run's weights beside the
// other's optimizer state) and interleave metrics.jsonl. The run holds output_dir/alignkit.lock, created exclusively
// (O_EXCL) with its pid and host, and removes it on every way out (return, error, process.exit after Ctrl-C or
// SIGTERM). A lock whose pid is gone on this host (the run was killed with -9) is stale and taken over, with a note.
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { AlignkitError } from '../errors.js';
import { processAlive } from './process-alive.js';

export const LOCK_FILE = 'alignkit.lock';

interface Holder {
  pid: number;
  host: string;
  started: string;
  command: string;
}

function readHolder(path: string): Holder | null {
  try {
    const value = JSON.parse(readFileSync(path, 'utf8')) as Partial<Holder>;
    return typeof value.pid === 'number' && typeof value.host === 'string' ? (value as Holder) : null;
  } catch {
    return null;
  }
}

function tryCreate(path: string, holder: Holder): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new AlignkitError(
      'ERR_IO',
      `${path}: cannot create the run's lock file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      { cause: err },
    );
  }
  try {
    writeSync(fd, JSON.stringify(holder) + '\n');
  } finally {
    closeSync(fd);
  }
  return true;
}

/**
 * Takes `outputDir`'s lock for this process (the folder must exist) and returns the function that releases it;
 * throws ERR_LOCKED naming the holder when another live run has it.
 */
export function lockOutputDir(outputDir: string, note: (message: string) => void): () => void {
  const path = join(outputDir, LOCK_FILE);
  const me: Holder = {
    pid: process.pid,
    host: hostname(),
    started: new Date().toISOString(),
    command: process.argv.slice(1).join(' '),
  };
  if (!tryCreate(path, me)) {
    const holder = readHolder(path);
    const stale = holder !== null && holder.host === me.host && !processAlive(holder.pid);
    if (!stale) {
      const who = holder
        ? `pid ${holder.pid} on ${holder.host}, started ${holder.started}${holder.command ? `: ${holder.command}` : ''}`
        : 'an unknown process (the lock file is unreadable)';
      throw new AlignkitError(
        'ERR_LOCKED',
        `output_dir ${outputDir} is in use by another run (${who}); wait for it to ` +
          `finish or choose another output_dir (if no run uses it, delete ${path})`,
      );
    }
    note(`note: ${path} was left by pid ${holder.pid}, which no longer runs; taking it over`);
    unlinkSync(path);
    if (!tryCreate(path, me))
      throw new AlignkitError(
        'ERR_LOCKED',
        `output_dir ${outputDir} was taken by another run starting at the same time`,
      );
  }
  let held = true;
  const release = () => {
    if (!held) return;
    held = false;
    process.off('exit', release);
    // Only our own lock: never one a later run took over.
    const holder = readHolder(path);
    if (holder?.pid === me.pid && holder.host === me.host) {
      try {
        unlinkSync(path);
      } catch {
        // already gone (the folder was removed): nothing to release
      }
    }
  };
  process.on('exit', release);
  return release;
}
