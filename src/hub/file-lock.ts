// One downloader per blob across processes (the ranks of a data-parallel job resolve the same model at once). Node
// has no flock, so the lock is a file created exclusively, holding "host pid", touched while held: a holder that
// died (same host, pid gone) or went silent (not touched for STALE_MS, e.g. on another node) is taken over.
import { hostname } from 'node:os';
import { mkdir, open, readFile, stat, unlink, utimes } from 'node:fs/promises';
import { dirname } from 'node:path';
import { processAlive } from '../io/process-alive.js';

const STALE_MS = 120_000;
const HEARTBEAT_MS = 20_000;
const POLL_MS = 250;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function isStale(path: string): Promise<boolean> {
  try {
    const [host, pid] = (await readFile(path, 'utf8')).split(' ');
    if (host === hostname() && Number(pid) > 0 && !processAlive(Number(pid))) return true;
    return Date.now() - (await stat(path)).mtimeMs > STALE_MS;
  } catch {
    return false; // gone already, or being written: look again
  }
}

/**
 * Runs `work` holding the lock file `path`. `onWait` is called once if another process holds it, so the caller
 * can say so; the caller re-checks after the wait whether the other process already did the work.
 */
export async function withFileLock<T>(path: string, work: () => Promise<T>, onWait?: () => void): Promise<T> {
  await mkdir(dirname(path), { recursive: true });
  let waited = false;
  for (;;) {
    try {
      const handle = await open(path, 'wx');
      await handle.writeFile(`${hostname()} ${process.pid}`);
      await handle.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (await isStale(path)) {
        await unlink(path).catch(() => {});
        continue;
      }
      if (!waited) onWait?.();
      waited = true;
      await sleep(POLL_MS);
    }
  }
  const heartbeat = setInterval(() => {
    const now = new Date();
    utimes(path, now, now).catch(() => {});
  }, HEARTBEAT_MS);
  heartbeat.unref();
  try {
    return await work();
  } finally {
    clearInterval(heartbeat);
    await unlink(path).catch(() => {});
  }
}
