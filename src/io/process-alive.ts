// Whether a lock's holder still runs: signal 0 probes a pid on this host without touching it.

/** Whether process `pid` runs on this host (EPERM: it runs, under another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
