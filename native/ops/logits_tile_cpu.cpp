// The CPU logits-tile kernels of fusedLinearLogProbs: one vectorised sweep kernel per tile row
// (ops/cpu/tile_rows.h), then a plain loop that merges each row into the running state. Tiles are float32 (CPU
// matmuls in bf16 are slow).
#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "ops/cpu/tile_rows.h"
#include "ops/logits_tile.h"

namespace alignkit::ops {
namespace {

// A tile's own statistics, relative to its row max c: s = sum exp(z - c), u = sum exp(z - c)^2,
// t = sum exp(z - c) (z - c); cmax and carg are c and where it was found (see cpu::TileRows::firstArgmax).
struct TileStatistics {
  at::Tensor cmax, carg, s, t, u;
};

class CpuLogitsTileKernels final : public LogitsTileKernels {
 public:
  explicit CpuLogitsTileKernels(const LogitsTransform& transform) : transform_(transform) {}

  ChunkSizes defaultChunks() const override { return {1024, 4096}; }

  // A 64 MiB float32 tile (524 rows at V = 32000), four times the default tile's area: the tile is the only
  // buffer of its size, and the logits and dH matmuls run faster on more rows, since each packs all of the
  // lm_head's weight whatever the rows (docs/performance.md, "The fused lm_head log-prob kernel").
  int64_t lossRowChunk(int64_t vocab) const override { return std::max<int64_t>(1, 4 * 1024 * 4096 / vocab); }

  at::ScalarType tileDtype(at::ScalarType) const override { return at::kFloat; }

  void fold(at::Tensor& z, int64_t v0, const at::Tensor& labels, OnlineSoftmax& st) override {
    const int64_t R = z.size(0);
    const TileStatistics tile = statistics(z, v0, labels, nullptr, st);
    const float *cmax = tile.cmax.const_data_ptr<float>(), *sTp = tile.s.const_data_ptr<float>(),
                *tTp = tile.t.const_data_ptr<float>(), *uTp = tile.u.const_data_ptr<float>();
    const int64_t* carg = tile.carg.const_data_ptr<int64_t>();
    float *m = st.m.data_ptr<float>(), *s = st.s.data_ptr<float>(), *t = st.t.data_ptr<float>(),
          *u = st.u.data_ptr<float>();
    int64_t* arg = st.argmax.data_ptr<int64_t>();
    for (int64_t i = 0; i < R; ++i) {
      if (cmax[i] > m[i]) arg[i] = carg[i];  // strict: an earlier chunk keeps a tie
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
    const at::Tensor gKept = g.masked_fill(labels.lt(0), 0.0);
    // z = transform(s) in place, with 1 - tanh^2 beside it when there is a soft-cap: dz/ds is that / scaling.
    at::Tensor dzds;
    if (transform_.scaling != 1.0) z.div_(transform_.scaling);
    if (transform_.softcap > 0.0) {
      z.div_(transform_.softcap).tanh_();
      dzds = z.square().neg_().add_(1.0);
      z.mul_(transform_.softcap);
    }
    z.sub_(lse.unsqueeze(1)).exp_().mul_(gKept.neg().unsqueeze(1));
    addLabelTerm(z, v0, labels, gKept);
    if (dzds.defined()) z.mul_(dzds);
    if (transform_.scaling != 1.0) z.div_(transform_.scaling);
  }

  // The tile is the whole vocabulary and the state fresh, so the tile's statistics are the state, and the row
  // kernel turns z into the gradient itself while each row is in cache.
  void foldGradient(at::Tensor& z, const at::Tensor& labels, const at::Tensor& g, OnlineSoftmax& st) override {
    const at::Tensor gF = g.to(at::kFloat).contiguous();
    const TileStatistics tile = statistics(z, 0, labels, gF.const_data_ptr<float>(), st);
    st.m.copy_(tile.cmax), st.s.copy_(tile.s), st.t.copy_(tile.t), st.u.copy_(tile.u), st.argmax.copy_(tile.carg);
  }

 private:
  LogitsTransform transform_;

  // The tile's statistics from the row kernel: each row's label logit goes into st.labelLogit and its logits'
  // sum is added to st.sumLogits. Without g the argmax is every row's first maximum and z is left transformed;
  // with g, z becomes the gradient (cpu::TileRows::g).
  TileStatistics statistics(at::Tensor& z, int64_t v0, const at::Tensor& labels, const float* g,
                            OnlineSoftmax& st) const {
    const int64_t R = z.size(0);
    const at::Tensor lab = labels.contiguous(), sum = at::empty({R}, z.options());
    TileStatistics out{at::empty({R}, z.options()), at::empty({R}, lab.options()), at::empty({R}, z.options()),
                       at::empty({R}, z.options()), at::empty({R}, z.options())};
    cpu::tileRows({z.data_ptr<float>(), R, z.size(1), v0, lab.const_data_ptr<int64_t>(), /*firstArgmax=*/g == nullptr,
                   g, out.cmax.data_ptr<float>(), sum.data_ptr<float>(), st.labelLogit.data_ptr<float>(),
                   out.s.data_ptr<float>(), out.t.data_ptr<float>(), out.u.data_ptr<float>(),
                   out.carg.data_ptr<int64_t>(), transform_});
    st.sumLogits.add_(sum);
    return out;
  }

  // dz at each row's label gains g: the onehot term of g (onehot - p).
  static void addLabelTerm(at::Tensor& z, int64_t v0, const at::Tensor& labels, const at::Tensor& gKept) {
    const int64_t R = z.size(0), Vc = z.size(1);
    float* zp = z.data_ptr<float>();
    const int64_t* lab = labels.const_data_ptr<int64_t>();
    const float* gp = gKept.const_data_ptr<float>();
    for (int64_t i = 0; i < R; ++i)
      if (lab[i] >= v0 && lab[i] < v0 + Vc) zp[i * Vc + lab[i] - v0] += gp[i];
  }
};

}  // namespace

std::unique_ptr<LogitsTileKernels> cpuLogitsTileKernels(const LogitsTransform& transform) {
  return std::make_unique<CpuLogitsTileKernels>(transform);
}

}  // namespace alignkit::ops
