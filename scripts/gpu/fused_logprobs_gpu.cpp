// The fused lm_head + log-prob kernel (native/ops/fused_linear_logprobs.h) on a CUDA device, without Node; built
// and run by scripts/gpu/check.sh.
//   fused_logprobs_gpu parity         CUDA fused against logprobsReference on CUDA and against the CPU fused
//                                     kernel: logps, the statistics and both gradients, over chunkings that do
//                                     and do not divide N and V, ignored labels, exact argmax ties, fp32/bf16/fp16;
//                                     and fusedLinearLogProbsLoss (gradient made in the forward) over row chunks;
//                                     then the same with the final-logit transforms (Gemma's soft-cap, Granite's
//                                     logits_scaling, both) on the smaller shape.
//                                     One PASS/FAIL line per case; exits 1 on any FAIL.
//   fused_logprobs_gpu bench [N C V]  forward + backward, fused vs unfused, fp32 and bf16: median time and the
//                                     peak CUDA memory a step adds above its inputs. Prints figures, asserts nothing.
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <torch/csrc/autograd/autograd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "ops/fused_linear_logprobs.h"

namespace {

using alignkit::ops::ChunkSizes;
using alignkit::ops::LogitsTransform;
using alignkit::ops::TokenLogProbs;
using LogProbsFn = std::function<TokenLogProbs(const at::Tensor&, const at::Tensor&, const at::Tensor&)>;

LogProbsFn fused(ChunkSizes chunks, LogitsTransform transform = {}) {
  return [chunks, transform](const at::Tensor& h, const at::Tensor& w, const at::Tensor& l) {
    return alignkit::ops::fusedLinearLogProbs(h, w, l, chunks, transform);
  };
}
LogProbsFn reference(LogitsTransform transform) {
  return [transform](const at::Tensor& h, const at::Tensor& w, const at::Tensor& l) {
    return alignkit::ops::logprobsReference(h, w, l, transform);
  };
}
const LogProbsFn unfused = reference({});

// float32 on the CPU; each case casts and moves it. Logits have unit scale; labels are ignored (-100 or -1) on a
// quarter of the rows, the argmax on a fifth, random elsewhere. Rows 0 and 1 tie exactly at entries 3, 4 and V-1
// (logit 6 = 4 * 1.5, the only non-zero term, so any summation order gives it): label 3 is the first maximum
// (correct), label 4 is not.
struct Problem {
  at::Tensor hidden, weight, labels, gradOut;
};

Problem makeProblem(int64_t N, int64_t C, int64_t V) {
  at::manual_seed(0);
  Problem p;
  p.hidden = at::randn({N, C});
  p.weight = at::randn({V, C}) / std::sqrt(static_cast<double>(C));
  p.hidden.narrow(0, 0, 2).zero_().select(1, 0).fill_(4.0);
  for (int64_t v : {int64_t{3}, int64_t{4}, V - 1}) p.weight[v][0] = 1.5;
  const at::Tensor argmax = p.hidden.mm(p.weight.t()).argmax(1), u = at::rand({N});
  p.labels = at::randint(V, {N}, at::kLong);
  p.labels = at::where(u.lt(0.2), argmax, p.labels).masked_fill(u.ge(0.75), -1).masked_fill(u.ge(0.9), -100);
  p.labels[0] = 3, p.labels[1] = 4, p.labels[2] = V - 1, p.labels[3] = 0;
  p.gradOut = at::randn({N});
  return p;
}

struct Result {
  TokenLogProbs out;
  at::Tensor dHidden, dWeight;
};

// One forward and backward of sum(gradOut * logps) from fresh leaves.
Result run(const LogProbsFn& fn, const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& labels,
           const at::Tensor& gradOut) {
  const at::Tensor h = hidden.detach().set_requires_grad(true), w = weight.detach().set_requires_grad(true);
  Result r{fn(h, w, labels), {}, {}};
  torch::autograd::backward({r.out.logps}, {gradOut});
  r.dHidden = h.grad();
  r.dWeight = w.grad();
  return r;
}

// fusedLinearLogProbsLoss with g = gradOut: the gradients of sum(gradOut * logps) from fresh leaves.
Result runLoss(ChunkSizes chunks, const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& labels,
               const at::Tensor& gradOut, LogitsTransform transform = {}) {
  const at::Tensor h = hidden.detach().set_requires_grad(true), w = weight.detach().set_requires_grad(true);
  const alignkit::ops::LogProbsLoss r =
      alignkit::ops::fusedLinearLogProbsLoss(h, w, labels, gradOut, chunks, transform);
  r.loss.backward();
  return {r.tokens, h.grad(), w.grad()};
}

// The loss mode drops ignored rows: their statistics are 0, so they are compared with 0.
Result droppingIgnored(Result r, const at::Tensor& labels) {
  const at::Tensor ignored = labels.lt(0);
  r.out.meanLogit = r.out.meanLogit.masked_fill(ignored, 0.0);
  r.out.entropy = r.out.entropy.masked_fill(ignored, 0.0);
  r.out.logSumSquaredProbs = r.out.logSumSquaredProbs.masked_fill(ignored, 0.0);
  return r;
}

// Tolerances. Values (per row): 1e-5 max(1, |want|) + 4 u (1 + max_v |z_v|), with u the unit roundoff of the
// tile dtype (0 for float32): bf16/fp16 tiles round every logit by up to u |z|, which moves logp, lse and the
// statistics by a few such errors. Gradients: 1e-6 + (1e-5 + 8 u) max |want|, dZ being rounded too. `correct`
// may differ only on rows whose two largest logits are closer than twice the logit error, never on exact ties.
// With a final-logit transform, z is h W^T before it (the transform's dz/ds <= 1 for scaling >= 1 keeps the
// bound) and the top-2 gap that of the transformed logits.
struct Tolerance {
  double u;
  at::Tensor zmax, top2Gap;  // (N) float32 on CPU, from the float32 logits of the case's inputs
};

double unitRoundoff(at::ScalarType dtype) {
  return dtype == at::kBFloat16 ? std::ldexp(1.0, -8) : dtype == at::kHalf ? std::ldexp(1.0, -11) : 0.0;
}

// A NaN error counts as the largest.
double orInfinity(double ratio) { return std::isnan(ratio) ? INFINITY : ratio; }

// max over rows of |got - want| / tolerance: the case passes while it is <= 1.
double valueRatio(const at::Tensor& got, const at::Tensor& want, const Tolerance& tol) {
  const at::Tensor g = got.detach().to(at::kCPU, at::kFloat), w = want.detach().to(at::kCPU, at::kFloat);
  const at::Tensor bound = 1e-5 * w.abs().clamp_min(1.0) + 4.0 * tol.u * (1.0 + tol.zmax);
  return orInfinity(((g - w).abs() / bound).max().item<double>());
}

double gradRatio(const at::Tensor& got, const at::Tensor& want, const Tolerance& tol) {
  const at::Tensor g = got.to(at::kCPU, at::kFloat), w = want.to(at::kCPU, at::kFloat);
  const double bound = 1e-6 + (1e-5 + 8.0 * tol.u) * w.abs().max().item<double>();
  return orInfinity((g - w).abs().max().item<double>() / bound);
}

// Rows where `correct` differs although the logits leave no doubt.
int64_t correctMismatches(const at::Tensor& got, const at::Tensor& want, const Tolerance& tol) {
  const at::Tensor differ = got.to(at::kCPU).ne(want.to(at::kCPU));
  const at::Tensor doubtful = tol.top2Gap.gt(0).logical_and(tol.top2Gap.le(2.0 * (1e-5 + tol.u) * (1.0 + tol.zmax)));
  return differ.logical_and(doubtful.logical_not()).sum().item<int64_t>();
}

bool compare(const std::string& name, const Result& got, const Result& want, const Tolerance& tol) {
  const std::vector<std::pair<const char*, double>> ratios = {
      {"logps", valueRatio(got.out.logps, want.out.logps, tol)},
      {"meanLogit", valueRatio(got.out.meanLogit, want.out.meanLogit, tol)},
      {"entropy", valueRatio(got.out.entropy, want.out.entropy, tol)},
      {"logSumSquaredProbs", valueRatio(got.out.logSumSquaredProbs, want.out.logSumSquaredProbs, tol)},
      {"dHidden", gradRatio(got.dHidden, want.dHidden, tol)},
      {"dWeight", gradRatio(got.dWeight, want.dWeight, tol)},
  };
  const auto worst =
      *std::max_element(ratios.begin(), ratios.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
  const int64_t wrong = correctMismatches(got.out.correct, want.out.correct, tol);
  const bool pass = worst.second <= 1.0 && wrong == 0 && got.dHidden.scalar_type() == want.dHidden.scalar_type();
  std::printf("%s %-58s worst %-18s at %5.3f of its tolerance, correct mismatches %lld\n", pass ? "PASS" : "FAIL",
              name.c_str(), worst.first, worst.second, static_cast<long long>(wrong));
  return pass;
}

// The final-logit transforms: soft-cap 5 (Gemma), scaling 8 (Granite), both; logits of 5 times unit scale so
// that the cap bends them. The fused kernel against logprobsReference with the same transform, on CUDA, in loss
// mode, and against the CPU fused kernel.
bool transformParity(int64_t N, int64_t C, int64_t V) {
  const at::Device cuda(at::kCUDA);
  const Problem p = makeProblem(N, C, V);
  const at::Tensor labels = p.labels.to(cuda), gradOut = p.gradOut.to(cuda), weight0 = p.weight * 5.0;
  struct Case {
    const char* name;
    LogitsTransform transform;
  };
  bool ok = true;
  for (const Case& c : {Case{"softcap 5", {1.0, 5.0}}, Case{"scaling 8", {8.0, 0.0}}, Case{"both 2.5, 4", {2.5, 4.0}}})
    for (at::ScalarType dtype : {at::kFloat, at::kBFloat16, at::kHalf}) {
      const at::Tensor hidden = p.hidden.to(cuda, dtype), weight = weight0.to(cuda, dtype);
      const at::Tensor raw = hidden.to(at::kFloat).mm(weight.to(at::kFloat).t()).cpu();
      const at::Tensor top2 = std::get<0>(alignkit::ops::applyLogitsTransform(raw, c.transform).topk(2, 1));
      const Tolerance tol{unitRoundoff(dtype), std::get<0>(raw.abs().max(1)), top2.select(1, 0) - top2.select(1, 1)};
      const std::string shape =
          std::string(c.name) + " N=" + std::to_string(N) + " V=" + std::to_string(V) + " " + c10::toString(dtype);
      const Result want = run(reference(c.transform), hidden, weight, labels, gradOut);
      for (const ChunkSizes& chunks : {ChunkSizes{0, 0}, ChunkSizes{7, 37}})
        ok &= compare(shape + " chunks " + std::to_string(chunks.rowChunk) + "x" + std::to_string(chunks.vocabChunk),
                      run(fused(chunks, c.transform), hidden, weight, labels, gradOut), want, tol);
      for (const int64_t rows : {int64_t{0}, int64_t{7}})
        ok &= compare(shape + " loss mode, rowChunk " + std::to_string(rows),
                      runLoss({rows, 0}, hidden, weight, labels, gradOut, c.transform), droppingIgnored(want, labels),
                      tol);
      const Result cpu = run(fused({}, c.transform), hidden.cpu(), weight.cpu(), labels.cpu(), gradOut.cpu());
      ok &= compare(shape + " vs CPU fused", run(fused({}, c.transform), hidden, weight, labels, gradOut), cpu, tol);
    }
  return ok;
}

int parity() {
  const at::Device cuda(at::kCUDA);
  struct Shape {
    int64_t N, C, V;
    std::vector<ChunkSizes> chunks;
  };
  // {0, 0} is the CUDA default (2048 x 32768): one vocabulary chunk for V = 1000, two for V = 40000.
  const std::vector<Shape> shapes = {
      {300, 64, 1000, {{0, 0}, {7, 37}, {64, 100}, {300, 1000}, {1, 1000}, {300, 1}, {1000, 4096}}},
      {513, 128, 40000, {{0, 0}, {256, 5000}, {100, 32001}}},
  };
  std::printf("parity on %s (TF32 in cuBLAS: %s)\n", at::cuda::getCurrentDeviceProperties()->name,
              at::globalContext().allowTF32CuBLAS() ? "on" : "off");
  bool ok = true;
  for (const Shape& s : shapes) {
    const Problem p = makeProblem(s.N, s.C, s.V);
    const at::Tensor labels = p.labels.to(cuda), gradOut = p.gradOut.to(cuda);
    for (at::ScalarType dtype : {at::kFloat, at::kBFloat16, at::kHalf}) {
      const at::Tensor hidden = p.hidden.to(cuda, dtype), weight = p.weight.to(cuda, dtype);
      const at::Tensor logits = hidden.to(at::kFloat).mm(weight.to(at::kFloat).t()).cpu();
      const at::Tensor top2 = std::get<0>(logits.topk(2, 1));
      const Tolerance tol{unitRoundoff(dtype), std::get<0>(logits.abs().max(1)), top2.select(1, 0) - top2.select(1, 1)};
      const Result reference = run(unfused, hidden, weight, labels, gradOut);
      const std::string shape = "N=" + std::to_string(s.N) + " C=" + std::to_string(s.C) + " V=" + std::to_string(s.V) +
                                " " + c10::toString(dtype);
      for (const ChunkSizes& c : s.chunks) {
        if (dtype == at::kHalf && c.rowChunk != 0) continue;  // fp16 shares bf16's code paths: defaults only
        const std::string name = shape + " chunks " + std::to_string(c.rowChunk) + "x" + std::to_string(c.vocabChunk);
        ok &= compare(name + " vs reference", run(fused(c), hidden, weight, labels, gradOut), reference, tol);
      }
      const Result kept = droppingIgnored(reference, labels);
      for (const int64_t rows : {int64_t{0}, int64_t{7}, s.N}) {
        if (dtype == at::kHalf && rows != 0) continue;
        ok &= compare(shape + " loss mode, rowChunk " + std::to_string(rows) + " vs reference",
                      runLoss({rows, 0}, hidden, weight, labels, gradOut), kept, tol);
      }
      const Result cpu = run(fused({}), hidden.cpu(), weight.cpu(), labels.cpu(), gradOut.cpu());
      ok &= compare(shape + " default chunks vs CPU fused", run(fused({}), hidden, weight, labels, gradOut), cpu, tol);
    }
  }
  ok &= transformParity(shapes.front().N, shapes.front().C, shapes.front().V);
  std::printf("%s\n", ok ? "all parity cases passed" : "SOME PARITY CASES FAILED");
  return ok ? 0 : 1;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int bench(int64_t N, int64_t C, int64_t V) {
  const at::Device cuda(at::kCUDA);
  const c10::DeviceIndex device = cuda.index() < 0 ? c10::cuda::current_device() : cuda.index();
  constexpr int kWarmup = 3, kSteps = 20;
  std::printf("bench on %s: N=%lld C=%lld V=%lld, forward + backward, median of %d steps after %d warm-up\n",
              at::cuda::getCurrentDeviceProperties()->name, (long long)N, (long long)C, (long long)V, kSteps, kWarmup);
  std::printf("%-9s %-30s %12s %10s %14s %10s\n", "dtype", "mode", "ms", "x unfused", "peak +MiB", "x unfused");
  struct Mode {
    std::string name;
    LogProbsFn fn;
  };
  const std::vector<Mode> modes = {
      {"unfused (logprobsReference)", unfused},
      {"fused, default 2048 x 32768", fused({})},
      {"fused, 4096 x 32768 (1 tile)", fused({4096, 32768})},
      {"fused, 512 x 32768", fused({512, 32768})},
      {"fused, 2048 x 8192", fused({2048, 8192})},
  };
  at::manual_seed(0);
  const at::Tensor labels = at::randint(V, {N}, at::kLong).masked_fill(at::rand({N}).lt(0.25), -100).to(cuda);
  const at::Tensor gradOut = at::randn({N}).to(cuda);
  for (at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
    // Leaves of the graph, as the final-norm output and lm_head.weight are.
    const at::Tensor hidden = at::randn({N, C}).to(cuda, dtype).set_requires_grad(true);
    const at::Tensor weight =
        (at::randn({V, C}) / std::sqrt(static_cast<double>(C))).to(cuda, dtype).set_requires_grad(true);
    double baseMs = 0, baseMiB = 0;
    for (const Mode& mode : modes) {
      auto step = [&] {
        const TokenLogProbs out = mode.fn(hidden, weight, labels);
        torch::autograd::backward({out.logps}, {gradOut});
        hidden.mutable_grad() = at::Tensor();
        weight.mutable_grad() = at::Tensor();
      };
      for (int i = 0; i < kWarmup; ++i) step();
      c10::cuda::device_synchronize();
      c10::cuda::CUDACachingAllocator::resetPeakStats(device);
      // allocated_bytes[0]: the aggregate over the allocator's pools.
      const double before = c10::cuda::CUDACachingAllocator::getDeviceStats(device).allocated_bytes[0].current;
      step();
      c10::cuda::device_synchronize();
      const double peakMiB =
          (c10::cuda::CUDACachingAllocator::getDeviceStats(device).allocated_bytes[0].peak - before) / 1048576.0;
      std::vector<double> ms;
      for (int i = 0; i < kSteps; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        step();
        c10::cuda::device_synchronize();
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      }
      const double t = median(ms);
      if (baseMs == 0) baseMs = t, baseMiB = peakMiB;
      std::printf("%-9s %-30s %12.3f %10.2f %14.1f %10.2f\n", c10::toString(dtype), mode.name.c_str(), t, t / baseMs,
                  peakMiB, peakMiB / baseMiB);
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string what = argc > 1 ? argv[1] : "";
  if (what != "parity" && what != "bench") {
    std::fprintf(stderr, "usage: %s parity | bench [N C V]\n", argv[0]);
    return 2;
  }
  if (!at::hasCUDA()) {
    std::fprintf(stderr, "%s: no CUDA device\n", argv[0]);
    return 2;
  }
  auto arg = [&](int i, int64_t fallback) { return argc > i ? std::atoll(argv[i]) : fallback; };
  // The DPO bench shape: 4 pairs x 2 x 512 tokens of scripts/bench/bench_llama.py's model (hidden 256, vocab 32000).
  return what == "parity" ? parity() : bench(arg(2, 4096), arg(3, 256), arg(4, 32000));
}
