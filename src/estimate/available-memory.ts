// The memory a training run on this machine can use: on the CPU the kernel's MemAvailable (free plus reclaimable
// page cache; os.freemem() where there is no /proc/meminfo), capped by a cgroup v2 memory.max; on CUDA device 0's
// free and total memory as nvidia-smi reports them (libtorch's counters know only what it allocated itself).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { freemem, totalmem } from 'node:os';

export interface AvailableMemory {
  device: 'cpu' | 'cuda';
  /** Bytes; null when it cannot be read (no nvidia-smi). */
  total: number | null;
  available: number | null;
  /** Where the numbers come from. */
  source: string;
}

function readOr(path: string): string | null {
  try {
    return existsSync(path) ? readFileSync(path, 'utf8') : null;
  } catch {
    return null;
  }
}

function cpuMemory(): AvailableMemory {
  const meminfo = readOr('/proc/meminfo');
  const kb = meminfo?.match(/^MemAvailable:\s+(\d+) kB/m)?.[1];
  let available = kb ? Number(kb) * 1024 : freemem();
  let total = totalmem();
  let source = kb ? '/proc/meminfo MemAvailable' : 'os.freemem()';
  const limit = readOr('/sys/fs/cgroup/memory.max')?.trim();
  if (limit && /^\d+$/.test(limit) && Number(limit) < total) {
    const used = Number(readOr('/sys/fs/cgroup/memory.current')?.trim() ?? 0);
    total = Number(limit);
    available = Math.min(available, total - used);
    source += ', cgroup memory.max';
  }
  return { device: 'cpu', total, available, source };
}

function cudaMemory(): AvailableMemory {
  try {
    const out = execFileSync(
      'nvidia-smi',
      ['--query-gpu=memory.total,memory.free', '--format=csv,noheader,nounits', '--id=0'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 },
    );
    const [total, free] = out
      .trim()
      .split(',')
      .map((v) => Number(v.trim()) * 2 ** 20);
    if (Number.isFinite(total) && Number.isFinite(free))
      return { device: 'cuda', total: total!, available: free!, source: 'nvidia-smi (device 0)' };
  } catch {
    // no nvidia-smi: unknown
  }
  return { device: 'cuda', total: null, available: null, source: 'unknown (nvidia-smi not found)' };
}

export function availableMemory(device: 'cpu' | 'cuda'): AvailableMemory {
  return device === 'cuda' ? cudaMemory() : cpuMemory();
}
