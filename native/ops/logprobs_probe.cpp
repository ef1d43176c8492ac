#include "ops/logprobs_probe.h"

#include <torch/csrc/autograd/autograd.h>

#include <optional>

#include "common/autocast.h"
#include "common/error.h"

namespace alignkit::ops {

LogProbsProbe probeLogProbs(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& labels,
                            const at::Tensor& gradOutput, const LogProbsProbeOptions& options) {
  const std::string& op = options.op;
  if (op != "fused" && op != "loss" && op != "reference")
    throw invalidArgument("probeLogProbs: op must be 'fused', 'loss' or 'reference', got '" + op + "'");
  const at::Tensor h = hidden.detach().requires_grad_(true), w = weight.detach().requires_grad_(true);
  LogProbsProbe out;
  std::optional<at::Tensor> loss;
  {
    // Closed before the backward, as the training steps do.
    const AutocastGuard autocast(h.device().type(), options.bf16);
    if (op == "loss") {
      LogProbsLoss r = fusedLinearLogProbsLoss(h, w, labels, gradOutput, options.chunks, options.transform);
      out.tokens = r.tokens;
      loss = r.loss;
    } else {
      out.tokens = op == "fused" ? fusedLinearLogProbs(h, w, labels, options.chunks, options.transform)
                                 : logprobsReference(h, w, labels, options.transform);
    }
  }
  if (loss)
    loss->backward();
  else
    torch::autograd::backward({out.tokens.logps}, {gradOutput.to(out.tokens.logps.dtype())});
  out.tokens.logps = out.tokens.logps.detach();
  out.dHidden = h.grad().to(at::kFloat);
  out.dWeight = w.grad().to(at::kFloat);
  return out;
}

}  // namespace alignkit::ops
