#include "runtime/info.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/headeronly/version.h>

#include <malloc.h>

#include <cstdlib>
#include <string>

#include "common/error.h"

namespace alignkit::runtime {

RuntimeInfo runtimeInfo() {
  RuntimeInfo info;
  info.torchVersion = TORCH_VERSION;
  info.builtWithCuda = ALIGNKIT_WITH_CUDA != 0;
  info.cudaAvailable = at::hasCUDA();
  info.cudaDeviceCount = info.cudaAvailable ? static_cast<int>(at::detail::getCUDAHooks().deviceCount()) : 0;
  info.threads = at::get_num_threads();
  return info;
}

void setNumThreads(int threads) {
  if (threads < 1) throw invalidArgument("threads must be at least 1, got " + std::to_string(threads));
  at::set_num_threads(threads);
}

void tuneMalloc() {
  auto setting = [](const char* name, int fallback) {
    const char* env = std::getenv(name);
    return env != nullptr ? std::atoi(env) : fallback;
  };
  if (const int arenas = setting("ALIGNKIT_MALLOC_ARENAS", 2); arenas > 0) mallopt(M_ARENA_MAX, arenas);
  if (const int bytes = setting("ALIGNKIT_MALLOC_MMAP_THRESHOLD", 128 << 10); bytes > 0)
    mallopt(M_MMAP_THRESHOLD, bytes);
}

}  // namespace alignkit::runtime
