// Fused vs unfused per-token log-probs (lm_head + log_softmax + gather), forward + backward, on CPU; and the
// fused loss with its gradient made in the forward (fusedLinearLogProbsLoss, SFT's path), whose tiles span the
// vocabulary (rowChunk only; by default the device's tile area). One mode per process, so that the peak
// resident memory it reports belongs to that mode alone:
//   fused_logprobs <fused|unfused|loss> [N C V rowChunk vocabChunk steps]
// Prints one line: mode, shape, best step time and the peak RSS the step added above the inputs.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <sys/resource.h>
#include <torch/csrc/autograd/autograd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "ops/fused_linear_logprobs.h"

namespace {

double peakRssMiB() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;  // Linux reports KiB
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <fused|unfused|loss> [N C V rowChunk vocabChunk steps]\n", argv[0]);
    return 2;
  }
  const std::string mode = argv[1];
  auto arg = [&](int i, int64_t fallback) { return argc > i ? std::atoll(argv[i]) : fallback; };
  const int64_t N = arg(2, 2048), C = arg(3, 256), V = arg(4, 32000), steps = arg(7, 5);
  const bool loss = mode == "loss";
  const alignkit::ops::ChunkSizes chunks{arg(5, loss ? 0 : 1024), loss ? 0 : arg(6, 4096)};

  at::manual_seed(0);
  // hidden (N, C), weight (V, C): leaves of the graph, as the final-norm output and lm_head.weight are.
  const at::Tensor hidden = at::randn({N, C}).set_requires_grad(true);
  const at::Tensor weight = (at::randn({V, C}) * 0.05).set_requires_grad(true);
  const at::Tensor labels = at::randint(V, {N}, at::kLong).masked_fill(at::rand({N}).lt(0.25), -1);
  const at::Tensor gradOut = at::randn({N});
  const double baseMiB = peakRssMiB();

  auto step = [&] {
    if (loss) {
      alignkit::ops::fusedLinearLogProbsLoss(hidden, weight, labels, gradOut, chunks).loss.backward();
      hidden.mutable_grad() = at::Tensor();
      weight.mutable_grad() = at::Tensor();
      return;
    }
    const auto out = mode == "fused" ? alignkit::ops::fusedLinearLogProbs(hidden, weight, labels, chunks)
                                     : alignkit::ops::logprobsReference(hidden, weight, labels);
    torch::autograd::backward({out.logps}, {gradOut});
    hidden.mutable_grad() = at::Tensor();
    weight.mutable_grad() = at::Tensor();
  };
  step();  // warm-up; its peak is the one reported
  const double peakMiB = peakRssMiB() - baseMiB;
  // The fastest step: on a shared machine the others mostly measure the neighbours.
  double ms = 1e30;
  for (int64_t i = 0; i < steps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    step();
    ms = std::min(ms, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::printf(
      "%-8s N=%lld C=%lld V=%lld rowChunk=%lld vocabChunk=%lld threads=%d  fwd+bwd %8.1f ms (best of %lld)  peak "
      "+%7.1f MiB\n",
      mode.c_str(), (long long)N, (long long)C, (long long)V, (long long)chunks.rowChunk, (long long)chunks.vocabChunk,
      at::get_num_threads(), ms, (long long)steps, peakMiB);
  return 0;
}
