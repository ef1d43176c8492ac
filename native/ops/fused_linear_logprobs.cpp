#include "ops/fused_linear_logprobs.h"

#include <ATen/Context.h>
#include <ATen/autocast_mode.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <limits>
#include <memory>
#include <string>

#include "common/error.h"
#include "ops/logits_tile.h"

namespace alignkit::ops {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

std::unique_ptr<LogitsTileKernels> tileKernelsFor(const at::Device& device, const LogitsTransform& transform) {
  if (device.is_cpu()) return cpuLogitsTileKernels(transform);
#if ALIGNKIT_WITH_CUDA
  if (device.is_cuda()) return cudaLogitsTileKernels(transform);
  const char* const devices = "CPU and CUDA";
#else
  const char* const devices = "CPU (this build has no CUDA)";
#endif
  throw invalidArgument("fusedLinearLogProbs: no kernel for " + device.str() + " tensors; there are kernels for " +
                        devices);
}

OnlineSoftmax startOnlineSoftmax(int64_t N, const at::Device& device) {
  const auto f = at::TensorOptions().dtype(at::kFloat).device(device);
  return {at::full({N}, -std::numeric_limits<float>::infinity(), f),
          at::zeros({N}, f),
          at::zeros({N}, f),
          at::zeros({N}, f),
          at::zeros({N}, f),
          at::zeros({N}, f),
          at::zeros({N}, f.dtype(at::kLong))};
}

// A (rows, cols) view at the front of a scratch buffer, reused for every tile of a pass.
at::Tensor tile(at::Tensor& scratch, int64_t rows, int64_t cols) {
  return scratch.narrow(0, 0, rows * cols).view({rows, cols});
}

// z = h @ w^T into the tile z; a product in a narrower dtype than the tile's (autocast's bfloat16 on CPU) is
// rounded to it, then widened.
void logitsTile(at::Tensor& z, const at::Tensor& h, const at::Tensor& w) {
  if (h.scalar_type() == z.scalar_type())
    at::mm_out(z, h, w.t());
  else
    z.copy_(at::mm(h, w.t()));
}

// The dtypes of a call: the tiles' (the device kernels' choice for the inputs) and the matmuls'. Under autocast
// the matmuls run in autocast's dtype, as an autocast linear; else in the tiles' dtype.
struct Dtypes {
  at::ScalarType tile, matmul;
};

Dtypes dtypesFor(const LogitsTileKernels& kernels, const at::Tensor& hidden, const at::Tensor& weight,
                 std::optional<at::ScalarType> autocast) {
  const at::ScalarType tile =
      kernels.tileDtype(autocast.value_or(at::promoteTypes(hidden.scalar_type(), weight.scalar_type())));
  return {tile, autocast.value_or(tile)};
}

// acc += a @ b with acc float32: in place when a and b are float32 too; else their product is made in their own
// dtype (as under autocast) and added.
void addProduct(at::Tensor acc, const at::Tensor& a, const at::Tensor& b) {
  if (a.scalar_type() == acc.scalar_type())
    acc.addmm_(a, b);
  else
    acc.add_(at::mm(a, b));
}

// Under autocast the products after the logits tile take float32 operands that hold bfloat16 values (dZ rounded
// to autocast's dtype, W and H widened from it). oneDNN's bf32 matmul (float32 in and out, the inputs rounded to
// bfloat16, float32 accumulation) gives them what the float32 matmul gives — rounding a bfloat16 value to bfloat16
// changes nothing — at the CPU's bfloat16 rate (AVX512-BF16 or AMX), twice float32's on the benchmark CPU
// (docs/performance.md). The setting is process-wide: it is held only around these matmuls and restored after.
class Bf16ValuedMatmuls {
 public:
  explicit Bf16ValuedMatmuls(bool enabled) : enabled_(enabled) {
    if (!enabled_) return;
    previous_ = at::globalContext().float32Precision(at::Float32Backend::MKLDNN, at::Float32Op::MATMUL);
    at::globalContext().setFloat32Precision(at::Float32Backend::MKLDNN, at::Float32Op::MATMUL,
                                            at::Float32Precision::BF16);
  }
  ~Bf16ValuedMatmuls() {
    if (enabled_) at::globalContext().setFloat32Precision(at::Float32Backend::MKLDNN, at::Float32Op::MATMUL, previous_);
  }
  Bf16ValuedMatmuls(const Bf16ValuedMatmuls&) = delete;
  Bf16ValuedMatmuls& operator=(const Bf16ValuedMatmuls&) = delete;

 private:
  bool enabled_;
  at::Float32Precision previous_ = at::Float32Precision::NONE;
};

// Whether a call's float32 products hold bfloat16 values only and run on the CPU (Bf16ValuedMatmuls applies).
bool bf16ValuedCpuProducts(const at::Tensor& hidden, const Dtypes& dtype) {
  return hidden.device().is_cpu() && dtype.tile == at::kFloat && dtype.matmul == at::kBFloat16;
}

// The final values of a finished state: logps, meanLogit, entropy, logSumSquaredProbs (N) float32, correct (N).
variable_list statistics(const OnlineSoftmax& state, const at::Tensor& labels, int64_t V) {
  const at::Tensor logS = state.s.log(), ignored = labels.lt(0);
  return {(state.labelLogit - state.m - logS).masked_fill(ignored, 0.0), state.sumLogits / static_cast<double>(V),
          logS - state.t / state.s, state.u.log() - 2.0 * logS,
          state.argmax.eq(labels).logical_and(ignored.logical_not())};
}

// A LogitsTransform kept in an autograd context between forward and backward.
void saveTransform(AutogradContext* ctx, const LogitsTransform& transform) {
  ctx->saved_data["scaling"] = transform.scaling;
  ctx->saved_data["softcap"] = transform.softcap;
}

LogitsTransform savedTransform(AutogradContext* ctx) {
  return {ctx->saved_data["scaling"].toDouble(), ctx->saved_data["softcap"].toDouble()};
}

class FusedLinearLogProbs : public torch::autograd::Function<FusedLinearLogProbs> {
 public:
  // hidden (N, C), weight (V, C), labels (N) int64, all on one device; a chunk size of 0 takes the device's
  // default. Returns logps, meanLogit, entropy, logSumSquaredProbs (N) float32, correct (N).
  static variable_list forward(AutogradContext* ctx, const at::Tensor& hidden, const at::Tensor& weight,
                               const at::Tensor& labels, int64_t rowChunk, int64_t vocabChunk,
                               std::optional<at::ScalarType> autocast, const LogitsTransform& transform) {
    const int64_t N = hidden.size(0), V = weight.size(0);
    const std::unique_ptr<LogitsTileKernels> kernels = tileKernelsFor(hidden.device(), transform);
    if (rowChunk == 0) rowChunk = kernels->defaultChunks().rowChunk;
    if (vocabChunk == 0) vocabChunk = kernels->defaultChunks().vocabChunk;
    const Dtypes dtype = dtypesFor(*kernels, hidden, weight, autocast);
    at::Tensor scratch =
        at::empty({std::min(rowChunk, N) * std::min(vocabChunk, V)}, hidden.options().dtype(dtype.tile));
    const OnlineSoftmax state = startOnlineSoftmax(N, hidden.device());
    for (int64_t r0 = 0; r0 < N; r0 += rowChunk) {
      const int64_t R = std::min(rowChunk, N - r0);
      const at::Tensor h = hidden.narrow(0, r0, R).to(dtype.matmul).contiguous();  // (R, C)
      const at::Tensor lab = labels.narrow(0, r0, R);
      OnlineSoftmax st = state.rows(r0, R);
      for (int64_t v0 = 0; v0 < V; v0 += vocabChunk) {
        const int64_t Vc = std::min(vocabChunk, V - v0);
        at::Tensor z = tile(scratch, R, Vc);  // (R, Vc) = h @ W[v0:v0+Vc]^T
        logitsTile(z, h, weight.narrow(0, v0, Vc).to(dtype.matmul));
        kernels->fold(z, v0, lab, st);
      }
    }
    const variable_list out = statistics(state, labels, V);
    ctx->save_for_backward({hidden, weight, labels, state.m + state.s.log()});
    ctx->saved_data["rowChunk"] = rowChunk;
    ctx->saved_data["vocabChunk"] = vocabChunk;
    ctx->saved_data["autocast"] = autocast ? at::IValue(*autocast) : at::IValue();
    saveTransform(ctx, transform);
    ctx->mark_non_differentiable({out[1], out[2], out[3], out[4]});
    return out;
  }

  // grads[0] is dL/dlogps (N); the statistics have none. dH = dZ @ W, dW = dZ^T @ H, tile by tile, accumulated
  // in float32; after autocast's matmul, dZ is rounded to its dtype and so are dH and dW, once, at the end.
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list saved = ctx->get_saved_variables();
    const at::Tensor &hidden = saved[0], &weight = saved[1], &labels = saved[2], &lse = saved[3];
    const int64_t rowChunk = ctx->saved_data["rowChunk"].toInt(), vocabChunk = ctx->saved_data["vocabChunk"].toInt();
    const bool wantH = ctx->needs_input_grad(0), wantW = ctx->needs_input_grad(1);
    if (!grads[0].defined() || !(wantH || wantW)) return variable_list(7);
    const at::Tensor g = grads[0].to(at::kFloat).contiguous();
    const int64_t N = hidden.size(0), V = weight.size(0), C = hidden.size(1);
    const std::unique_ptr<LogitsTileKernels> kernels = tileKernelsFor(hidden.device(), savedTransform(ctx));
    const at::IValue autocast = ctx->saved_data["autocast"];
    const Dtypes dtype =
        dtypesFor(*kernels, hidden, weight, autocast.isNone() ? std::nullopt : std::optional(autocast.toScalarType()));
    const auto f = hidden.options().dtype(at::kFloat);
    at::Tensor dH = wantH ? at::empty({N, C}, f) : at::Tensor();
    at::Tensor dW = wantW ? at::zeros({V, C}, f) : at::Tensor();
    at::Tensor scratch =
        at::empty({std::min(rowChunk, N) * std::min(vocabChunk, V)}, hidden.options().dtype(dtype.tile));
    const Bf16ValuedMatmuls bf32(bf16ValuedCpuProducts(hidden, dtype));
    for (int64_t r0 = 0; r0 < N; r0 += rowChunk) {
      const int64_t R = std::min(rowChunk, N - r0);
      const at::Tensor h = hidden.narrow(0, r0, R).to(dtype.matmul).contiguous(), hTile = h.to(dtype.tile);  // (R, C)
      const at::Tensor lab = labels.narrow(0, r0, R), gR = g.narrow(0, r0, R), lseR = lse.narrow(0, r0, R);
      at::Tensor dh = wantH ? dH.narrow(0, r0, R).zero_() : at::Tensor();  // (R, C)
      for (int64_t v0 = 0; v0 < V; v0 += vocabChunk) {
        const int64_t Vc = std::min(vocabChunk, V - v0);
        const at::Tensor w = weight.narrow(0, v0, Vc).to(dtype.matmul);  // (Vc, C)
        at::Tensor z = tile(scratch, R, Vc);
        logitsTile(z, h, w);
        kernels->gradient(z, v0, lab, gR, lseR);  // z is now dZ (R, Vc)
        if (dtype.matmul != dtype.tile) z.copy_(z.to(dtype.matmul));
        if (wantH) addProduct(dh, z, w.to(dtype.tile));
        if (wantW) addProduct(dW.narrow(0, v0, Vc), z.t(), hTile);
      }
    }
    return {wantH ? dH.to(dtype.matmul).to(hidden.scalar_type()) : at::Tensor(),
            wantW ? dW.to(dtype.matmul).to(weight.scalar_type()) : at::Tensor(),
            at::Tensor(),
            at::Tensor(),
            at::Tensor(),
            at::Tensor(),
            at::Tensor()};
  }
};

// fusedLinearLogProbsLoss: the upstream gradient g of every logp is given, so the forward makes dH and dW.
class FusedLinearLogProbsLoss : public torch::autograd::Function<FusedLinearLogProbsLoss> {
 public:
  // hidden (N, C), weight (V, C), labels (N) int64, g (N) float32, all on one device; rowChunk 0 takes the
  // device's default (LogitsTileKernels::lossRowChunk). Returns loss () = sum g logp, then logps, meanLogit, entropy,
  // logSumSquaredProbs (N) float32, correct (N), detached.
  static variable_list forward(AutogradContext* ctx, const at::Tensor& hidden, const at::Tensor& weight,
                               const at::Tensor& labels, const at::Tensor& g, int64_t rowChunk,
                               std::optional<at::ScalarType> autocast, const LogitsTransform& transform) {
    const int64_t N = hidden.size(0), V = weight.size(0), C = hidden.size(1);
    const std::unique_ptr<LogitsTileKernels> kernels = tileKernelsFor(hidden.device(), transform);
    if (rowChunk == 0) rowChunk = kernels->lossRowChunk(V);
    const Dtypes dtype = dtypesFor(*kernels, hidden, weight, autocast);
    const bool wantH = hidden.requires_grad(), wantW = weight.requires_grad();
    // Rows without a label have g = 0 and no statistic anyone reads: they skip the lm_head altogether. The
    // labelled rows' hidden states and gradients are gathered and scattered a tile at a time (no whole copy).
    const at::Tensor rows = labels.ge(0).nonzero().squeeze(1);
    const int64_t n = rows.size(0);
    const at::Tensor lab = labels.index_select(0, rows), gs = g.index_select(0, rows);
    const at::Tensor w = weight.to(dtype.matmul), wTile = w.to(dtype.tile);  // (V, C)
    const auto f = hidden.options().dtype(at::kFloat);
    at::Tensor dH = wantH ? at::zeros({N, C}, f) : at::Tensor(), dW = wantW ? at::zeros({V, C}, f) : at::Tensor();
    at::Tensor dHTile = wantH ? at::empty({std::min(rowChunk, n), C}, f) : at::Tensor();
    at::Tensor scratch = at::empty({std::min(rowChunk, n) * V}, hidden.options().dtype(dtype.tile));
    const OnlineSoftmax state = startOnlineSoftmax(n, hidden.device());
    const Bf16ValuedMatmuls bf32(bf16ValuedCpuProducts(hidden, dtype));
    for (int64_t r0 = 0; r0 < n; r0 += rowChunk) {
      const int64_t R = std::min(rowChunk, n - r0);
      const at::Tensor tileRows = rows.narrow(0, r0, R);
      const at::Tensor h = hidden.index_select(0, tileRows).to(dtype.matmul);  // (R, C)
      at::Tensor z = tile(scratch, R, V);                                      // (R, V) = h @ W^T
      logitsTile(z, h, w);
      OnlineSoftmax st = state.rows(r0, R);
      kernels->foldGradient(z, lab.narrow(0, r0, R), gs.narrow(0, r0, R), st);  // z is now dZ
      if (dtype.matmul != dtype.tile) z.copy_(z.to(dtype.matmul));
      if (wantH) {
        at::Tensor dh = dHTile.narrow(0, 0, R).zero_();
        addProduct(dh, z, wTile);
        dH.index_copy_(0, tileRows, dh);
      }
      if (wantW) addProduct(dW, z.t(), h.to(dtype.tile));
    }
    const variable_list stats = statistics(state, lab, V);
    const at::Tensor loss = (gs * stats[0]).sum();
    auto all = [&](const at::Tensor& t) { return at::zeros({N}, t.options()).index_copy_(0, rows, t); };
    ctx->saved_data["dH"] = dH;
    ctx->saved_data["dW"] = dW;
    ctx->saved_data["dtypes"] =
        std::vector<int64_t>{static_cast<int64_t>(dtype.matmul), static_cast<int64_t>(hidden.scalar_type()),
                             static_cast<int64_t>(weight.scalar_type())};
    variable_list out{loss, all(stats[0]), all(stats[1]), all(stats[2]), all(stats[3]), all(stats[4])};
    ctx->mark_non_differentiable({out[1], out[2], out[3], out[4], out[5]});
    return out;
  }

  // grads[0] is dL/dloss (1 under loss.backward()): dH and dW scale by it, in float32, and are rounded once to
  // autocast's matmul dtype as in fusedLinearLogProbs' backward.
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    at::Tensor dH = ctx->saved_data["dH"].toTensor(), dW = ctx->saved_data["dW"].toTensor();
    // Let go of them, so that .grad can take these very tensors (AccumulateGrad copies a shared one).
    ctx->saved_data.erase("dH");
    ctx->saved_data.erase("dW");
    const std::vector<int64_t> dtypes = ctx->saved_data["dtypes"].toIntVector();
    const auto matmul = static_cast<at::ScalarType>(dtypes[0]);
    if (grads[0].defined()) {
      const at::Tensor scale = grads[0].to(at::kFloat);
      if (dH.defined()) dH.mul_(scale);
      if (dW.defined()) dW.mul_(scale);
    }
    return {dH.defined() ? dH.to(matmul).to(static_cast<at::ScalarType>(dtypes[1])) : at::Tensor(),
            dW.defined() ? dW.to(matmul).to(static_cast<at::ScalarType>(dtypes[2])) : at::Tensor(),
            at::Tensor(),
            at::Tensor(),
            at::Tensor(),
            at::Tensor(),
            at::Tensor()};
  }
};

void checkShapes(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& labels) {
  auto shape = [](const at::Tensor& t) { return std::string(c10::str(t.sizes())); };
  if (hidden.dim() != 2 || weight.dim() != 2 || hidden.size(1) != weight.size(1))
    throw invalidArgument("fusedLinearLogProbs: hidden (N, C) and weight (V, C) expected, got hidden " + shape(hidden) +
                          " and weight " + shape(weight));
  if (labels.dim() != 1 || labels.size(0) != hidden.size(0))
    throw invalidArgument("fusedLinearLogProbs: labels (N) expected for hidden " + shape(hidden) + ", got " +
                          shape(labels));
  if (!at::isFloatingType(hidden.scalar_type()) || !at::isFloatingType(weight.scalar_type()))
    throw invalidArgument("fusedLinearLogProbs: hidden and weight must be floating point");
  if (labels.numel() > 0 && labels.max().item<int64_t>() >= weight.size(0))
    throw invalidArgument("fusedLinearLogProbs: a label is >= the vocabulary size " + std::to_string(weight.size(0)));
}

}  // namespace

TokenLogProbs fusedLinearLogProbs(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& labels,
                                  ChunkSizes chunks, const LogitsTransform& transform) {
  checkShapes(hidden, weight, labels);
  checkLogitsTransform(transform, "fusedLinearLogProbs");
  if (weight.device() != hidden.device())
    throw invalidArgument("fusedLinearLogProbs: hidden and weight must be on one device, got hidden on " +
                          hidden.device().str() + " and weight on " + weight.device().str());
  if (chunks.rowChunk < 0 || chunks.vocabChunk < 0)
    throw invalidArgument(
        "fusedLinearLogProbs: rowChunk and vocabChunk must be positive, or 0 for the device's default");
  const at::DeviceType device = hidden.device().type();
  // Emplaced rather than built by a conditional expression, which GCC 12 reports as maybe-uninitialized
  // where libtorch's inlined IValue code reads it (its std::optional false positive, GCC bug 80635).
  std::optional<at::ScalarType> autocast;
  if (at::autocast::is_autocast_enabled(device)) autocast.emplace(at::autocast::get_autocast_dtype(device));
  const variable_list out =
      FusedLinearLogProbs::apply(hidden, weight, labels.to(hidden.device(), at::kLong).contiguous(), chunks.rowChunk,
                                 chunks.vocabChunk, autocast, transform);
  return {out[0], out[1], out[2], out[3], out[4]};
}

LogProbsLoss fusedLinearLogProbsLoss(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& labels,
                                     const at::Tensor& g, ChunkSizes chunks, const LogitsTransform& transform) {
  checkShapes(hidden, weight, labels);
  checkLogitsTransform(transform, "fusedLinearLogProbsLoss");
  if (weight.device() != hidden.device())
    throw invalidArgument("fusedLinearLogProbsLoss: hidden and weight must be on one device, got hidden on " +
                          hidden.device().str() + " and weight on " + weight.device().str());
  if (g.dim() != 1 || g.size(0) != hidden.size(0))
    throw invalidArgument("fusedLinearLogProbsLoss: g (N) expected for hidden " +
                          std::string(c10::str(hidden.sizes())) + ", got " + std::string(c10::str(g.sizes())));
  if (chunks.rowChunk < 0)
    throw invalidArgument("fusedLinearLogProbsLoss: rowChunk must be positive, or 0 for the device's default");
  const at::DeviceType device = hidden.device().type();
  std::optional<at::ScalarType> autocast;
  if (at::autocast::is_autocast_enabled(device)) autocast.emplace(at::autocast::get_autocast_dtype(device));
  const variable_list out = FusedLinearLogProbsLoss::apply(
      hidden, weight, labels.to(hidden.device(), at::kLong).contiguous(),
      g.to(hidden.device(), at::kFloat).contiguous(), chunks.rowChunk, autocast, transform);
  return {out[0], {out[1], out[2], out[3], out[4], out[5]}};
}

TokenLogProbs logprobsReference(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& labels,
                                const LogitsTransform& transform) {
  checkShapes(hidden, weight, labels);
  checkLogitsTransform(transform, "logprobsReference");
  const at::Tensor logits =
      applyLogitsTransform(hidden.to(at::kFloat).mm(weight.to(at::kFloat).t()).to(at::kFloat), transform);  // (N, V)
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
