// A caching CPU allocator for libtorch, in the spirit of its CUDA caching allocator. Training allocates the same
// activation sizes step after step; through malloc each large one is a fresh mmap whose pages the kernel faults in
// and zeroes, then an munmap — on the SFT benchmark that made the model body's forward+backward 1.7x slower than
// PyTorch's (sys time ~ user time). Blocks of 128 KiB (where glibc starts mapping, see tuneMalloc) to 64 MiB are
// instead kept when freed, in size classes at most 1/8 apart, and handed out again; others go to malloc as before.
// Idle cached bytes are capped (ALIGNKIT_CPU_CACHE_MB, default 1024; 0 turns the cache off), so a change of shapes
// cannot pile up memory.
#pragma once

#include <cstddef>

namespace alignkit::runtime {

// Makes the caching allocator libtorch's CPU allocator (once; later calls do nothing). Tensors allocated before
// keep their own deleters.
void installCpuCachingAllocator();

// Bytes held by cached idle blocks, and blocks served from the cache since start, for tests and benchmarks.
struct CpuCacheStats {
  size_t idleBytes = 0;
  size_t hits = 0;
  size_t misses = 0;
};
CpuCacheStats cpuCacheStats();

}  // namespace alignkit::runtime
