// What one device does to a logits tile of fusedLinearLogProbs (fused_linear_logprobs.cpp). The tile loop there
// (chunking, the matmuls, autograd, the final statistics) is shared by all devices; each device supplies the
// per-tile work behind LogitsTileKernels: the CPU in logits_tile_cpu.cpp, CUDA in logits_tile_cuda.cu.
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>

#include "ops/fused_linear_logprobs.h"
#include "ops/logits_transform.h"

namespace alignkit::ops {

// Running per-row state of the online softmax over the vocabulary chunks seen so far, for R rows. With
// m the running max and e_j = exp(z_j - m): s = sum e_j, t = sum e_j (z_j - m), so that at the end
// lse = m + log s and entropy = lse - sum p_j z_j = log s - t / s (t kept relative to m: no cancellation
// between two large numbers). When m grows to m', both are rescaled by exp(m - m'), and t also gains
// (m - m') s for the shift of its reference point. u = sum e_j^2 (rescaled by exp(2 (m - m'))) gives
// log sum p_j^2 = logsumexp(2z) - 2 logsumexp(z) = log u - 2 log s, which WPO's weights need.
// All (R) contiguous on the tiles' device, updated in place by the kernels.
struct OnlineSoftmax {
  at::Tensor m, s, t, u, sumLogits, labelLogit;  // float32; m starts at -inf, the rest at 0
  at::Tensor argmax;                             // int64, where the running max m was found (first on ties)

  // Rows r0 .. r0+R-1 (views).
  OnlineSoftmax rows(int64_t r0, int64_t R) const {
    return {m.narrow(0, r0, R),         s.narrow(0, r0, R),          t.narrow(0, r0, R),     u.narrow(0, r0, R),
            sumLogits.narrow(0, r0, R), labelLogit.narrow(0, r0, R), argmax.narrow(0, r0, R)};
  }
};

class LogitsTileKernels {
 public:
  virtual ~LogitsTileKernels() = default;

  // The chunk sizes a ChunkSizes field of 0 stands for on this device.
  virtual ChunkSizes defaultChunks() const = 0;

  // The rows of fusedLinearLogProbsLoss's whole-vocabulary tiles that a rowChunk of 0 stands for.
  virtual int64_t lossRowChunk(int64_t vocab) const = 0;

  // The dtype of the logits tiles and of the matmuls that make and consume them, for inputs of dtype `input`.
  virtual at::ScalarType tileDtype(at::ScalarType input) const = 0;

  // The kernels of a device are made for one LogitsTransform (ops/logits_transform.h): the tiles z passed in
  // below hold h W^T, and the kernels apply the transform to them (in float32) before anything else; the
  // statistics, lse and softmax are the transformed logits', and gradient() / foldGradient() make the gradient
  // with respect to h W^T (the transform's derivative chained in).

  // Folds a logits tile into the running state. z (R, Vc) contiguous holds vocabulary entries v0 .. v0+Vc-1 of
  // rows whose labels (R) int64 are given; z may be overwritten.
  virtual void fold(at::Tensor& z, int64_t v0, const at::Tensor& labels, OnlineSoftmax& st) = 0;

  // Turns the logits tile z into its gradient in place: dz_j = g (onehot(label)_j - exp(z_j - lse)), with g 0 on
  // ignored rows (label < 0: their logp is the constant 0), times dz/ds of the transform. g, lse (R) float32.
  virtual void gradient(at::Tensor& z, int64_t v0, const at::Tensor& labels, const at::Tensor& g,
                        const at::Tensor& lse) = 0;

  // fusedLinearLogProbsLoss's step: folds a tile z (R, V) holding the whole vocabulary into a fresh state st,
  // whose lse is then final, and turns z into its gradient in place as gradient() does. st.argmax is exact where
  // it is the row's label; elsewhere it is only known not to be (-1): all that the statistics read of it.
  virtual void foldGradient(at::Tensor& z, const at::Tensor& labels, const at::Tensor& g, OnlineSoftmax& st) = 0;
};

std::unique_ptr<LogitsTileKernels> cpuLogitsTileKernels(const LogitsTransform& transform);
#if ALIGNKIT_WITH_CUDA
std::unique_ptr<LogitsTileKernels> cudaLogitsTileKernels(const LogitsTransform& transform);
#endif

}  // namespace alignkit::ops
