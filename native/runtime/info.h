// What libtorch this addon runs on, for `alignkit info` and bug reports.
#pragma once

#include <string>

namespace alignkit::runtime {

struct RuntimeInfo {
  std::string torchVersion;
  bool builtWithCuda = false;  // compiled against a CUDA libtorch
  bool cudaAvailable = false;  // and a device is usable now
  int cudaDeviceCount = 0;
  int threads = 0;  // intra-op threads ATen uses
};

RuntimeInfo runtimeInfo();
void setNumThreads(int threads);

// Tunes glibc's malloc for training's large, short-lived buffers, which otherwise fragment its heaps so that
// peak RSS keeps climbing for steps (docs/performance.md has the figures):
// - caps the arenas (M_ARENA_MAX) at ALIGNKIT_MALLOC_ARENAS, default 2 (0: glibc's 8 per core); every libuv and
//   ATen worker thread would otherwise get its own;
// - fixes the mmap threshold (M_MMAP_THRESHOLD) at ALIGNKIT_MALLOC_MMAP_THRESHOLD bytes, default 128 KiB (0:
//   glibc's sliding one), so every large tensor is mapped and unmapped whole. glibc raises its sliding threshold
//   up to 32 MiB after each freed mapping, after which activations land in the heaps and stay resident. Tensors
//   of 128 KiB-64 MiB do not reach malloc again once cached (runtime/cpu_caching_allocator.h), which spares their
//   mappings' page faults.
void tuneMalloc();

}  // namespace alignkit::runtime
