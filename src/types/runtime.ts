// What the native runtime reports about itself: allocator counters and the cost of averaging gradients.

/** The caching CPU allocator's counters (bytes, and allocations served from the cache or the system). */
export interface CpuCache {
  /** Bytes in idle blocks, kept for the next allocation of their size class. */
  idleBytes: number;
  /** Bytes in live blocks of the cached sizes (128 KiB-64 MiB, rounded to their class). */
  liveBytes: number;
  /** The most liveBytes ever was: live and idle together never exceed it. */
  peakLiveBytes: number;
  hits: number;
  misses: number;
  /** Idle blocks returned to the system to keep live + idle within peakLiveBytes. */
  evictions: number;
}

/** The CUDA caching allocator's counters, in bytes (what torch.cuda.max_memory_allocated reads). */
export interface CudaMemory {
  allocated: number;
  peakAllocated: number;
  reserved: number;
  peakReserved: number;
}

/** What averaging gradients has cost this rank so far. */
export interface GradientSyncStats {
  /** Backward passes whose gradients were averaged over the ranks (one per optimizer step). */
  syncs: number;
  /** Bucket all-reduces they issued. */
  allReduces: number;
  /** Seconds spent waiting for those all-reduces after the backward ended (the communication overlap did not hide). */
  waitSeconds: number;
}
