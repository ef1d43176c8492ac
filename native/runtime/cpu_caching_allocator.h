// A caching CPU allocator for libtorch, in the spirit of its CUDA caching allocator. Training allocates the same
// activation sizes step after step; through malloc each large one is a fresh mmap whose pages the kernel faults in
// and zeroes, then an munmap — on the SFT benchmark that made the model body's forward+backward much slower than
// PyTorch's, the extra time spent in the kernel (docs/performance.md). Blocks of 128 KiB (where glibc starts
// mapping, see tuneMalloc) to 64 MiB are instead kept when freed, in size classes at most 1/8 apart, and handed out
// again; others go to malloc as before. Idle cached bytes are capped (ALIGNKIT_CPU_CACHE_MB, default 1024; 0 turns
// the cache off), so a change of shapes cannot pile up memory; and the bytes held, live and idle, never exceed the
// most ever live at once: a miss that would go beyond it first returns idle blocks to the system, the largest
// first. Kept blocks of one size cannot serve another, so without that bound the cache added its idle blocks to the
// peak; with it the peak is the live peak's, and a training step, which allocates as the one before did, still
// finds most of its blocks.
#pragma once

#include <cstddef>

namespace alignkit::runtime {

// Makes the caching allocator libtorch's CPU allocator (once; later calls do nothing). Tensors allocated before
// keep their own deleters.
void installCpuCachingAllocator();

// For tests and benchmarks: bytes in idle blocks, in live blocks of the cached sizes and the most of those ever
// live at once; blocks served from the cache, allocated anew, and returned to the system to keep the bound.
struct CpuCacheStats {
  size_t idleBytes = 0;
  size_t liveBytes = 0;
  size_t peakLiveBytes = 0;
  size_t hits = 0;
  size_t misses = 0;
  size_t evictions = 0;
};
CpuCacheStats cpuCacheStats();

}  // namespace alignkit::runtime
