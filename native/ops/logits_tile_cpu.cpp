// The CPU logits-tile kernels of fusedLinearLogProbs: vectorised ATen reductions over the tile, then a plain
// loop that merges each row into the running state. Tiles are float32 (CPU matmuls in bf16 are slow).
#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "ops/logits_tile.h"

namespace alignkit::ops {
namespace {

// A tile's own statistics, relative to its row max c: s = sum exp(z - c), u = sum exp(z - c)^2,
// t = sum exp(z - c) (z - c); cmax and carg are c and where it was found (first on ties, as torch.argmax).
struct TileStatistics {
  at::Tensor cmax, carg, s, t, u;
};

class CpuLogitsTileKernels final : public LogitsTileKernels {
  // exp(z - c) is made this many columns at a time: the scratch stays small (and in cache) however wide the tile.
  static constexpr int64_t kExpColumns = 2048;

 public:
  ChunkSizes defaultChunks() const override { return {1024, 4096}; }

  // A 64 MiB float32 tile (524 rows at V = 32000), four times the default tile's area: the tile is the only
  // buffer of its size (the exp scratch is a block of columns), and on 2 cores (K = 256) the logits and dH matmuls
  // run 20-50% faster on 524 rows than on 131: each packs all of the lm_head's weight, whatever the rows.
  // bench:sft's step: 1.93 s on 262 rows, 1.81 s on 524 (means of 3 alternating runs), for 35 MiB more peak RSS.
  int64_t lossRowChunk(int64_t vocab) const override { return std::max<int64_t>(1, 4 * 1024 * 4096 / vocab); }

  at::ScalarType tileDtype(at::ScalarType) const override { return at::kFloat; }

  void fold(at::Tensor& z, int64_t v0, const at::Tensor& labels, OnlineSoftmax& st) override {
    const int64_t R = z.size(0);
    readLabelLogits(z, v0, labels, st);
    const auto [cmaxT, cargT] = z.max(1);  // first maximum on ties, as torch.argmax
    const TileStatistics tile = statistics(z, cmaxT, cargT, /*keepExp=*/false);
    const float *cmax = tile.cmax.const_data_ptr<float>(), *sTp = tile.s.const_data_ptr<float>(),
                *tTp = tile.t.const_data_ptr<float>(), *uTp = tile.u.const_data_ptr<float>();
    const int64_t* carg = tile.carg.const_data_ptr<int64_t>();
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
    const at::Tensor gKept = g.masked_fill(labels.lt(0), 0.0);
    z.sub_(lse.unsqueeze(1)).exp_().mul_(gKept.neg().unsqueeze(1));
    addLabelTerm(z, v0, labels, gKept);
  }

  // The tile is the whole vocabulary and the state fresh, so the tile's statistics are the state, and the
  // probabilities are exp(z - c) / s: fold's exponentials, kept in z, are scaled, not made again.
  // Where the first maximum is matters only on rows whose label logit is the maximum: the max alone is a fifth of
  // max-with-index's time, and those rows look for an earlier equal logit.
  void foldGradient(at::Tensor& z, const at::Tensor& labels, const at::Tensor& g, OnlineSoftmax& st) override {
    readLabelLogits(z, 0, labels, st);
    const at::Tensor cmax = z.amax(1);
    const TileStatistics tile = statistics(z, cmax, labelArgmax(z, labels, st.labelLogit, cmax), /*keepExp=*/true);
    st.m.copy_(tile.cmax), st.s.copy_(tile.s), st.t.copy_(tile.t), st.u.copy_(tile.u), st.argmax.copy_(tile.carg);
    const at::Tensor gKept = g.masked_fill(labels.lt(0), 0.0);
    z.mul_(gKept.neg().div(tile.s).unsqueeze(1));
    addLabelTerm(z, 0, labels, gKept);
  }

 private:
  // Each row's label logit, where the label falls in this tile (vocabulary entries v0 ..), and the logits' sum.
  static void readLabelLogits(const at::Tensor& z, int64_t v0, const at::Tensor& labels, OnlineSoftmax& st) {
    const int64_t R = z.size(0), Vc = z.size(1);
    const int64_t* lab = labels.const_data_ptr<int64_t>();
    const float* zp = z.const_data_ptr<float>();
    float* labelZ = st.labelLogit.data_ptr<float>();
    for (int64_t i = 0; i < R; ++i)
      if (lab[i] >= v0 && lab[i] < v0 + Vc) labelZ[i] = zp[i * Vc + lab[i] - v0];
    st.sumLogits.add_(z.sum(1));
  }

  // The label where it is the row's first maximum (the label logit equals it and no earlier logit does), else -1.
  static at::Tensor labelArgmax(const at::Tensor& z, const at::Tensor& labels, const at::Tensor& labelLogit,
                                const at::Tensor& cmax) {
    const int64_t R = z.size(0), V = z.size(1);
    at::Tensor out = at::full({R}, -1, labels.options());
    const int64_t* lab = labels.const_data_ptr<int64_t>();
    const float *zp = z.const_data_ptr<float>(), *labelZ = labelLogit.const_data_ptr<float>(),
                *m = cmax.const_data_ptr<float>();
    int64_t* arg = out.data_ptr<int64_t>();
    for (int64_t i = 0; i < R; ++i) {
      if (lab[i] < 0 || labelZ[i] != m[i]) continue;
      const float* row = zp + i * V;
      if (std::find(row, row + lab[i], m[i]) == row + lab[i]) arg[i] = lab[i];
    }
    return out;
  }

  // The tile's statistics about its row max cmax, found at carg; z is overwritten, with exp(z - c) where keepExp.
  TileStatistics statistics(at::Tensor& z, const at::Tensor& cmax, const at::Tensor& carg, bool keepExp) {
    const int64_t R = z.size(0), Vc = z.size(1);
    TileStatistics out{cmax, carg, at::zeros({R}, z.options()), at::zeros({R}, z.options()), at::zeros({R}, z.options())};
    for (int64_t c0 = 0; c0 < Vc; c0 += kExpColumns) {
      at::Tensor zb = z.narrow(1, c0, std::min(kExpColumns, Vc - c0));
      zb.sub_(cmax.unsqueeze(1));  // z - c, a block at a time while it is in cache
      at::Tensor e = expScratch(R, zb.size(1));
      at::exp_out(e, zb);
      out.s.add_(e.sum(1));
      out.u.add_(at::linalg_vector_norm(e, 2, {1}).square_());
      out.t.add_(zb.mul_(e).sum(1));  // zb is z - c until here
      if (keepExp) zb.copy_(e);
    }
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

  // A block of exp(z - c), in a buffer reused for every block and tile of a pass.
  at::Tensor expScratch(int64_t rows, int64_t cols) {
    if (scratch_.numel() < rows * cols) scratch_ = at::empty({rows * cols}, at::kFloat);
    return scratch_.narrow(0, 0, rows * cols).view({rows, cols});
  }

  at::Tensor scratch_;
};

}  // namespace

std::unique_ptr<LogitsTileKernels> cpuLogitsTileKernels() { return std::make_unique<CpuLogitsTileKernels>(); }

}  // namespace alignkit::ops
