#include "ops/fused_linear_logprobs.h"

#include <torch/csrc/autograd/custom_function.h>

#include <cmath>
#include <limits>
#include <string>

#include "common/error.h"

namespace alignkit::ops {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Running per-row state of the online softmax over the vocabulary chunks seen so far, for R rows. With
// m the running max and e_j = exp(z_j - m): s = sum e_j, t = sum e_j (z_j - m), so that at the end
// lse = m + log s and entropy = lse - sum p_j z_j = log s - t / s (t kept relative to m: no cancellation
// between two large numbers). When m grows to m', both are rescaled by exp(m - m'), and t also gains
// (m - m') s for the shift of its reference point. u = sum e_j^2 (rescaled by exp(2 (m - m'))) gives
// log sum p_j^2 = logsumexp(2z) - 2 logsumexp(z) = log u - 2 log s, which WPO's weights need.
struct OnlineSoftmax {
  at::Tensor m, s, t, u, sumLogits, labelLogit;  // (R) float32
  at::Tensor argmax;                          // (R) int64, where the running max m was found

  explicit OnlineSoftmax(int64_t R) {
    const auto f = at::TensorOptions().dtype(at::kFloat);
    m = at::full({R}, kNegInf, f);
    s = at::zeros({R}, f);
    t = at::zeros({R}, f);
    u = at::zeros({R}, f);
    sumLogits = at::zeros({R}, f);
    labelLogit = at::zeros({R}, f);
    argmax = at::zeros({R}, at::kLong);
  }
};

// Folds one logits tile into the running state. z is (R, Vc) float32 contiguous, holding vocabulary entries
// v0 .. v0+Vc-1, and is overwritten; e is scratch of the same shape; labels (R) int64. The tile's own
// statistics come from vectorised ATen reductions (relative to the tile max c: sT = sum exp(z - c),
// uT = sum exp(z - c)^2, tT = sum exp(z - c) (z - c)); only the per-row merge into the running state is a plain loop.
void softmaxStatsForward(at::Tensor& z, at::Tensor& e, int64_t v0, const at::Tensor& labels, OnlineSoftmax& st) {
  const int64_t R = z.size(0), Vc = z.size(1);
  const int64_t* lab = labels.const_data_ptr<int64_t>();
  const float* zp = z.const_data_ptr<float>();
  float* labelZ = st.labelLogit.data_ptr<float>();
  for (int64_t i = 0; i < R; ++i)
    if (lab[i] >= v0 && lab[i] < v0 + Vc) labelZ[i] = zp[i * Vc + lab[i] - v0];
  st.sumLogits.add_(z.sum(1));
  const auto [cmaxT, cargT] = z.max(1);  // first maximum on ties, as torch.argmax
  z.sub_(cmaxT.unsqueeze(1));            // z - c
  at::exp_out(e, z);
  const at::Tensor sT = e.sum(1), uT = at::linalg_vector_norm(e, 2, {1}).square_(), tT = e.mul_(z).sum(1);

  const float *cmax = cmaxT.const_data_ptr<float>(), *sTp = sT.const_data_ptr<float>(), *tTp = tT.const_data_ptr<float>(),
              *uTp = uT.const_data_ptr<float>();
  const int64_t* carg = cargT.const_data_ptr<int64_t>();
  float *m = st.m.data_ptr<float>(), *s = st.s.data_ptr<float>(), *t = st.t.data_ptr<float>(), *u = st.u.data_ptr<float>();
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

// Turns a logits tile into its gradient in place: dz_j = g (onehot(label)_j - exp(z_j - lse)). g is 0 on
// ignored rows (their logp is the constant 0). z is (R, Vc) for vocabulary v0 .. v0+Vc-1; g, lse (R).
void softmaxStatsBackward(at::Tensor& z, int64_t v0, const at::Tensor& labels, const at::Tensor& g,
                          const at::Tensor& lse) {
  const int64_t R = z.size(0), Vc = z.size(1);
  const at::Tensor gKept = g.masked_fill(labels.lt(0), 0.0);
  z.sub_(lse.unsqueeze(1)).exp_().mul_(gKept.neg().unsqueeze(1));
  float* zp = z.data_ptr<float>();
  const int64_t* lab = labels.const_data_ptr<int64_t>();
  const float* gp = gKept.const_data_ptr<float>();
  for (int64_t i = 0; i < R; ++i)
    if (lab[i] >= v0 && lab[i] < v0 + Vc) zp[i * Vc + lab[i] - v0] += gp[i];
}

// A (rows, cols) float32 view at the front of a scratch buffer, reused for every tile of a pass.
at::Tensor tile(at::Tensor& scratch, int64_t rows, int64_t cols) {
  return scratch.narrow(0, 0, rows * cols).view({rows, cols});
}

class FusedLinearLogProbs : public torch::autograd::Function<FusedLinearLogProbs> {
 public:
  // hidden (N, C), weight (V, C), labels (N) int64. Returns logps, meanLogit, entropy, logSumSquaredProbs (N)
  // float32, correct (N).
  static variable_list forward(AutogradContext* ctx, const at::Tensor& hidden, const at::Tensor& weight,
                               const at::Tensor& labels, int64_t rowChunk, int64_t vocabChunk) {
    const int64_t N = hidden.size(0), V = weight.size(0);
    const auto f = at::TensorOptions().dtype(at::kFloat);
    at::Tensor logps = at::empty({N}, f), meanLogit = at::empty({N}, f), entropy = at::empty({N}, f),
               logSumSquaredProbs = at::empty({N}, f), correct = at::empty({N}, at::kBool), lse = at::empty({N}, f);
    const int64_t tileSize = std::min(rowChunk, N) * std::min(vocabChunk, V);
    at::Tensor scratch = at::empty({tileSize}, f), scratchExp = at::empty({tileSize}, f);
    for (int64_t r0 = 0; r0 < N; r0 += rowChunk) {
      const int64_t R = std::min(rowChunk, N - r0);
      const at::Tensor h = hidden.narrow(0, r0, R).to(at::kFloat).contiguous();  // (R, C)
      const at::Tensor lab = labels.narrow(0, r0, R);
      OnlineSoftmax st(R);
      for (int64_t v0 = 0; v0 < V; v0 += vocabChunk) {
        const int64_t Vc = std::min(vocabChunk, V - v0);
        at::Tensor z = tile(scratch, R, Vc);  // (R, Vc) = h @ W[v0:v0+Vc]^T
        at::mm_out(z, h, weight.narrow(0, v0, Vc).to(at::kFloat).t());
        at::Tensor e = tile(scratchExp, R, Vc);
        softmaxStatsForward(z, e, v0, lab, st);
      }
      const at::Tensor logS = st.s.log(), ignored = lab.lt(0);
      lse.narrow(0, r0, R).copy_(st.m + logS);
      logps.narrow(0, r0, R).copy_((st.labelLogit - st.m - logS).masked_fill(ignored, 0.0));
      meanLogit.narrow(0, r0, R).copy_(st.sumLogits / static_cast<double>(V));
      entropy.narrow(0, r0, R).copy_(logS - st.t / st.s);
      logSumSquaredProbs.narrow(0, r0, R).copy_(st.u.log() - 2.0 * logS);
      correct.narrow(0, r0, R).copy_(st.argmax.eq(lab).logical_and(ignored.logical_not()));
    }
    ctx->save_for_backward({hidden, weight, labels, lse});
    ctx->saved_data["rowChunk"] = rowChunk;
    ctx->saved_data["vocabChunk"] = vocabChunk;
    ctx->mark_non_differentiable({meanLogit, entropy, logSumSquaredProbs, correct});
    return {logps, meanLogit, entropy, logSumSquaredProbs, correct};
  }

  // grads[0] is dL/dlogps (N); the statistics have none. dH = dZ @ W, dW = dZ^T @ H, tile by tile.
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list saved = ctx->get_saved_variables();
    const at::Tensor &hidden = saved[0], &weight = saved[1], &labels = saved[2], &lse = saved[3];
    const int64_t rowChunk = ctx->saved_data["rowChunk"].toInt(), vocabChunk = ctx->saved_data["vocabChunk"].toInt();
    const bool wantH = ctx->needs_input_grad(0), wantW = ctx->needs_input_grad(1);
    if (!grads[0].defined() || !(wantH || wantW)) return {at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
    const at::Tensor g = grads[0].to(at::kFloat).contiguous();
    const int64_t N = hidden.size(0), V = weight.size(0), C = hidden.size(1);
    const auto f = at::TensorOptions().dtype(at::kFloat);
    at::Tensor dH = wantH ? at::empty({N, C}, f) : at::Tensor();
    at::Tensor dW = wantW ? at::zeros({V, C}, f) : at::Tensor();
    at::Tensor scratch = at::empty({std::min(rowChunk, N) * std::min(vocabChunk, V)}, f);
    for (int64_t r0 = 0; r0 < N; r0 += rowChunk) {
      const int64_t R = std::min(rowChunk, N - r0);
      const at::Tensor h = hidden.narrow(0, r0, R).to(at::kFloat).contiguous();  // (R, C)
      const at::Tensor lab = labels.narrow(0, r0, R), gR = g.narrow(0, r0, R), lseR = lse.narrow(0, r0, R);
      at::Tensor dh = wantH ? dH.narrow(0, r0, R).zero_() : at::Tensor();  // (R, C)
      for (int64_t v0 = 0; v0 < V; v0 += vocabChunk) {
        const int64_t Vc = std::min(vocabChunk, V - v0);
        const at::Tensor w = weight.narrow(0, v0, Vc).to(at::kFloat);  // (Vc, C)
        at::Tensor z = tile(scratch, R, Vc);
        at::mm_out(z, h, w.t());
        softmaxStatsBackward(z, v0, lab, gR, lseR);  // z is now dZ (R, Vc)
        if (wantH) dh.addmm_(z, w);
        if (wantW) {
          at::Tensor dw = dW.narrow(0, v0, Vc);
          dw.addmm_(z.t(), h);
        }
      }
    }
    return {wantH ? dH.to(hidden.scalar_type()) : at::Tensor(), wantW ? dW.to(weight.scalar_type()) : at::Tensor(),
            at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

void checkShapes(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& labels) {
  auto shape = [](const at::Tensor& t) { return std::string(c10::str(t.sizes())); };
  if (hidden.dim() != 2 || weight.dim() != 2 || hidden.size(1) != weight.size(1))
    throw invalidArgument("fusedLinearLogProbs: hidden (N, C) and weight (V, C) expected, got hidden " +
                          shape(hidden) + " and weight " + shape(weight));
  if (labels.dim() != 1 || labels.size(0) != hidden.size(0))
    throw invalidArgument("fusedLinearLogProbs: labels (N) expected for hidden " + shape(hidden) + ", got " +
                          shape(labels));
  if (!at::isFloatingType(hidden.scalar_type()) || !at::isFloatingType(weight.scalar_type()))
    throw invalidArgument("fusedLinearLogProbs: hidden and weight must be floating point");
  if (labels.numel() > 0 && labels.max().item<int64_t>() >= weight.size(0))
    throw invalidArgument("fusedLinearLogProbs: a label is >= the vocabulary size " +
                          std::to_string(weight.size(0)));
}

}  // namespace

TokenLogProbs fusedLinearLogProbs(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& labels,
                                  ChunkSizes chunks) {
  checkShapes(hidden, weight, labels);
  if (!hidden.device().is_cpu() || !weight.device().is_cpu())
    throw invalidArgument("fusedLinearLogProbs: CPU tensors expected (no CUDA kernel yet), got " +
                          hidden.device().str());
  if (chunks.rowChunk <= 0 || chunks.vocabChunk <= 0)
    throw invalidArgument("fusedLinearLogProbs: rowChunk and vocabChunk must be positive");
  const variable_list out = FusedLinearLogProbs::apply(hidden, weight, labels.to(at::kLong).contiguous(),
                                                       chunks.rowChunk, chunks.vocabChunk);
  return {out[0], out[1], out[2], out[3], out[4]};
}

TokenLogProbs logprobsReference(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& labels) {
  checkShapes(hidden, weight, labels);
  const at::Tensor logits = hidden.to(at::kFloat).mm(weight.to(at::kFloat).t());  // (N, V)
  const at::Tensor logp = logits.log_softmax(1);
  const at::Tensor lab = labels.to(logits.device(), at::kLong), ignored = lab.lt(0);
  TokenLogProbs out;
  out.logps = logp.gather(1, lab.clamp_min(0).unsqueeze(1)).squeeze(1).masked_fill(ignored, 0.0);
  const at::Tensor z = logits.detach(), lp = logp.detach();
  out.meanLogit = z.mean(1);
  out.entropy = -(lp.exp() * lp).sum(1);
  out.logSumSquaredProbs = (2.0 * z).logsumexp(1) - 2.0 * z.logsumexp(1);
  out.correct = z.argmax(1).eq(lab).logical_and(ignored.logical_not());
  return out;
}

}  // namespace alignkit::ops
