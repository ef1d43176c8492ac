// tileRows' AVX2 build (CMakeLists.txt compiles this file with -mavx2 -mfma and ATen's CPU_CAPABILITY=AVX2, as
// ATen builds its own AVX2 kernels): Vectorized<float> is 8 lanes wide and its exp is Sleef's.
#if ALIGNKIT_CPU_AVX2
#include "ops/cpu/tile_rows_kernel.h"

namespace alignkit::ops::cpu {

void tileRowsAvx2(const TileRows& tile) { tileRowsKernel(tile); }

}  // namespace alignkit::ops::cpu
#endif
