// tileRows' portable build: ATen's default Vectorized<float> (NEON on arm64, plain loops elsewhere).
#include "ops/cpu/tile_rows_kernel.h"

namespace alignkit::ops::cpu {

void tileRowsDefault(const TileRows& tile) { tileRowsKernel(tile); }

}  // namespace alignkit::ops::cpu
