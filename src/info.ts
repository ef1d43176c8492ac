// What alignkit runs on: torch version, CUDA, threads, which addon file and which libtorch it was built with.
import { chooseAddonFile, type InstallRecord } from './addon-file.js';
import { native, packageRoot } from './native.js';
import type { CpuCache, CudaMemory } from './types/runtime.js';
import { AlignkitError, fromNative } from './errors.js';

export type { CpuCache, CudaMemory };

export interface RuntimeInfo {
  torchVersion: string;
  builtWithCuda: boolean;
  cudaAvailable: boolean;
  cudaDeviceCount: number;
  /** The device `train` and `loadModel` pick by default. */
  device: string;
  /** Intra-op threads libtorch uses. */
  threads: number;
  addonPath: string;
  /** The libtorch the addon runs against: its version, and where it came from as recorded at install time. */
  libtorch: { version: string; root: string; source?: string };
  /** What `npm install` / `alignkit setup` chose (CPU or CUDA) and why; absent when it has not run here. */
  install?: Pick<InstallRecord, 'variant' | 'reason' | 'builtFromSource' | 'seconds'>;
}

export function info(): RuntimeInfo {
  const runtime = native().runtimeInfo();
  const file = chooseAddonFile(packageRoot);
  const install = file.install;
  return {
    ...runtime,
    device: runtime.cudaAvailable ? 'cuda:0' : 'cpu',
    addonPath: file.path,
    libtorch: { version: file.builtFor, root: file.libtorchRoot, source: install?.torch.source },
    install: install && {
      variant: install.variant,
      reason: install.reason,
      builtFromSource: install.builtFromSource,
      seconds: install.seconds,
    },
  };
}

/**
 * Seeds libtorch's default random generators, as `torch.manual_seed(seed)` does (what the Trainer's set_seed does to
 * torch): LoRA dropout draws from them.
 */
export function manualSeed(seed: number): void {
  if (!Number.isSafeInteger(seed) || seed < 0)
    throw new AlignkitError('ERR_INVALID_ARG', `seed: expected a non-negative integer, got ${seed}`);
  native().manualSeed(seed);
}

/** Sets libtorch's intra-op thread count for this process. */
export function setNumThreads(threads: number): void {
  native().setNumThreads(threads);
}

/**
 * The caching CPU allocator's counters: bytes of idle and live cached blocks and the live peak that bounds them together,
 * and allocations of 128 KiB-64 MiB served from the cache (hits) or from the system (misses). Training repeats its sizes
 * every step, so hits should dominate after step 1.
 */
export function cpuCache(): CpuCache {
  return native().cpuCache();
}

/** GPU memory counters of CUDA device `device` (default 0); with `reset`, the peaks restart after reading. */
export function cudaMemory(device = 0, options: { reset?: boolean } = {}): CudaMemory {
  try {
    return native().cudaMemory(device, options.reset ?? false);
  } catch (err) {
    return fromNative(err);
  }
}
