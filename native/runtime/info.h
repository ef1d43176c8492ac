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

// Caps glibc's malloc arenas (M_ARENA_MAX) unless ALIGNKIT_MALLOC_ARENAS says otherwise (0: leave glibc's
// default of 8 per core). Every libuv and ATen worker thread otherwise gets its own arena, and training's
// large, short-lived buffers fragment them: measured on the DPO benchmark, peak RSS kept climbing for steps.
void limitMallocArenas();

}  // namespace alignkit::runtime
