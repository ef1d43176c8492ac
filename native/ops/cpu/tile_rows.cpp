#include "ops/cpu/tile_rows.h"

#include <cstdlib>
#include <string_view>

namespace alignkit::ops::cpu {
namespace {

using Kernel = void (*)(const TileRows&);

Kernel pickKernel() {
  // ATen's own switch to its portable kernels picks ours too: how the tests run this build on AVX2 machines.
  const char* capability = std::getenv("ATEN_CPU_CAPABILITY");
  if (capability && std::string_view(capability) == "default") return tileRowsDefault;
#if ALIGNKIT_CPU_AVX2
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return tileRowsAvx2;
#endif
  return tileRowsDefault;
}

}  // namespace

void tileRows(const TileRows& tile) {
  static const Kernel kernel = pickKernel();
  kernel(tile);
}

}  // namespace alignkit::ops::cpu
