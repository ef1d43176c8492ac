// The CPU logits-tile kernels of fusedLinearLogProbs: vectorised ATen reductions over the tile, then a plain
// loop that merges each row into the running state. Tiles are float32 (CPU matmuls in bf16 are slow).
#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "ops/logits_tile.h"

namespace alignkit::ops {
namespace {

class CpuLogitsTileKernels final : public LogitsTileKernels {
 public:
  ChunkSizes defaultChunks() const override { return {1024, 4096}; }

  at::ScalarType tileDtype(at::ScalarType) const override { return at::kFloat; }

  // The tile's own statistics are taken relative to the tile max c: sT = sum exp(z - c), uT = sum exp(z - c)^2,
  // tT = sum exp(z - c) (z - c).
  void fold(at::Tensor& z, int64_t v0, const at::Tensor& labels, OnlineSoftmax& st) override {
    const int64_t R = z.size(0), Vc = z.size(1);
    const int64_t* lab = labels.const_data_ptr<int64_t>();
    const float* zp = z.const_data_ptr<float>();
    float* labelZ = st.labelLogit.data_ptr<float>();
    for (int64_t i = 0; i < R; ++i)
      if (lab[i] >= v0 && lab[i] < v0 + Vc) labelZ[i] = zp[i * Vc + lab[i] - v0];
    st.sumLogits.add_(z.sum(1));
    const auto [cmaxT, cargT] = z.max(1);  // first maximum on ties, as torch.argmax
    z.sub_(cmaxT.unsqueeze(1));            // z - c
    at::Tensor e = expScratch(R, Vc);
    at::exp_out(e, z);
    const at::Tensor sT = e.sum(1), uT = at::linalg_vector_norm(e, 2, {1}).square_(), tT = e.mul_(z).sum(1);

    const float *cmax = cmaxT.const_data_ptr<float>(), *sTp = sT.const_data_ptr<float>(),
                *tTp = tT.const_data_ptr<float>(), *uTp = uT.const_data_ptr<float>();
    const int64_t* carg = cargT.const_data_ptr<int64_t>();
    float *m = st.m.data_ptr<float>(), *s = st.s.data_ptr<float>(), *t = st.t.data_ptr<float>(),
          *u = st.u.data_ptr<float>();
    int64_t* arg = st.argmax.data_ptr<int64_t>();
    for (int64_t i = 0; i < R; ++i) {
      if (cmax[i] > m[i]) arg[i] = v0 + carg[i];  // strict: an earlier chunk keeps a tie
      const float newM = std::max(m[i], cmax[i]), dOld = m[i] - newM, dNew = cmax[i] - newM;
      const float b = std::exp(dNew);
      float sNew = b * sTp[i], tNew = b * (tTp[i] + dNew * sTp[i]), uNew = b * b * uTp[i];
      if (s[i] > 0.f) {  // a first tile has nothing to rescale (and m = -inf)
        const float a = std::exp(dOld);
        sNew += a * s[i];
        tNew += a * (t[i] + dOld * s[i]);
        uNew += a * a * u[i];
      }
      m[i] = newM, s[i] = sNew, t[i] = tNew, u[i] = uNew;
    }
  }

  void gradient(at::Tensor& z, int64_t v0, const at::Tensor& labels, const at::Tensor& g,
                const at::Tensor& lse) override {
    const int64_t R = z.size(0), Vc = z.size(1);
    const at::Tensor gKept = g.masked_fill(labels.lt(0), 0.0);
    z.sub_(lse.unsqueeze(1)).exp_().mul_(gKept.neg().unsqueeze(1));
    float* zp = z.data_ptr<float>();
    const int64_t* lab = labels.const_data_ptr<int64_t>();
    const float* gp = gKept.const_data_ptr<float>();
    for (int64_t i = 0; i < R; ++i)
      if (lab[i] >= v0 && lab[i] < v0 + Vc) zp[i * Vc + lab[i] - v0] += gp[i];
  }

  // fold leaves z minus its row max, here m over the whole vocabulary, so log s = lse - m stands in for lse.
  void foldGradient(at::Tensor& z, const at::Tensor& labels, const at::Tensor& g, OnlineSoftmax& st) override {
    fold(z, 0, labels, st);
    gradient(z, 0, labels, g, st.s.log());
  }

 private:
  // exp(z - c) of a tile, in a buffer reused for every tile of a pass (the first tile is the largest).
  at::Tensor expScratch(int64_t rows, int64_t cols) {
    if (scratch_.numel() < rows * cols) scratch_ = at::empty({rows * cols}, at::kFloat);
    return scratch_.narrow(0, 0, rows * cols).view({rows, cols});
  }

  at::Tensor scratch_;
};

}  // namespace

std::unique_ptr<LogitsTileKernels> cpuLogitsTileKernels() { return std::make_unique<CpuLogitsTileKernels>(); }

}  // namespace alignkit::ops
