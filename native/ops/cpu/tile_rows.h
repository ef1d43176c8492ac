// The per-row work on a CPU logits tile (logits_tile_cpu.cpp): each row's max, the sum of its logits, its label's
// logit, where its first maximum is, and s = sum e, t = sum e d, u = sum e^2 for d = z - max, e = exp(d), and
// optionally the row's gradient in place, made in sweeps of the row while it is in cache instead of one pass over
// the whole tile per quantity.
// Vectorised with ATen's Vectorized<float>, compiled once per instruction set (tile_rows_avx2.cpp on x86-64 with
// AVX2 and FMA, tile_rows_default.cpp everywhere) and picked at run time.
#pragma once

#include <cstdint>

#include "ops/logits_transform.h"

namespace alignkit::ops::cpu {

struct TileRows {
  float* z;  // (rows, cols) contiguous: vocabulary entries v0 .. v0+cols-1 of each row
  int64_t rows, cols, v0;
  const int64_t* labels;  // (rows); a label outside v0 .. v0+cols-1 (or negative) is not in this tile
  bool firstArgmax;       // argmax: the first maximum's entry on every row; else the label where it is the row's
                          // first maximum and -1 elsewhere
  // When given (rows), the tile holds the whole vocabulary and z becomes the gradient of sum g logp(label):
  // g (onehot(label) - exp(z - max) / s), with g taken as 0 where the label is negative; else z is left as it was.
  const float* g;
  // Outputs, (rows) each; labelLogit is written only on rows whose label is in the tile.
  float *max, *sumLogits, *labelLogit, *s, *t, *u;
  int64_t* argmax;
  // Applied to z (which holds h W^T) in place first: everything above is of the transformed logits, and the
  // gradient is with respect to h W^T.
  LogitsTransform transform;
};

void tileRows(const TileRows& tile);

// The builds of the kernel (tile_rows_kernel.h) that tileRows picks from.
void tileRowsDefault(const TileRows& tile);
#if ALIGNKIT_CPU_AVX2
void tileRowsAvx2(const TileRows& tile);
#endif

}  // namespace alignkit::ops::cpu
