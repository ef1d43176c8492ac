#include "train/dpo_loss.h"

#include <ATen/core/grad_mode.h>
#include <torch/csrc/autograd/autograd.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <string>

#include "common/error.h"

namespace alignkit::train {
namespace {

// One batch of B pairs as every loss type sees it, all (B) float32 (lengths as float).
struct Pairs {
  at::Tensor chosenLogps, rejectedLogps;          // policy, LD-weighted when ld_alpha is set
  at::Tensor refChosenLogps, refRejectedLogps;
  at::Tensor chosenLogratios, rejectedLogratios;  // policy − reference
  at::Tensor chosenScores, rejectedScores;        // f'(ratio) of the f-divergence; the log-ratios for reverse_kl
  at::Tensor delta;                               // chosenScores − rejectedScores
  at::Tensor chosenLengths, rejectedLengths;      // completion_mask.sum(1) (unshifted)
  at::Tensor sftLoss;                             // () cross-entropy of the chosen completion tokens
};

at::Tensor logsig(const at::Tensor& x) { return at::log_sigmoid(x); }

// DPO, Rafailov et al. 2023 (https://huggingface.co/papers/2305.18290) Eq. 7; TRL "sigmoid" (in 1.13
// label_smoothing does not enter it).
at::Tensor sigmoidLoss(const Pairs& p, const DpoLossOptions& o) { return -logsig(o.beta * p.delta); }

// SLiC hinge, Zhao et al. 2023 (https://huggingface.co/papers/2305.10425); TRL "hinge".
at::Tensor hingeLoss(const Pairs& p, const DpoLossOptions& o) { return at::relu(1 - o.beta * p.delta); }

// IPO, Azar et al. 2023 (https://huggingface.co/papers/2310.12036) Eq. 17, on per-token-averaged scores as TRL
// "ipo" does (divided by completion_mask.sum(1).clamp(min=1)).
at::Tensor ipoLoss(const Pairs& p, const DpoLossOptions& o) {
  const at::Tensor d = p.chosenScores / p.chosenLengths.clamp_min(1.0) - p.rejectedScores / p.rejectedLengths.clamp_min(1.0);
  return (d - 1 / (2 * o.beta)).pow(2);
}

// EXO-pref, Ji et al. 2024 (https://huggingface.co/papers/2402.00856) Eq. 16; TRL "exo_pair" (ε = label_smoothing).
at::Tensor exoPairLoss(const Pairs& p, const DpoLossOptions& o) {
  const at::Tensor eps = at::scalar_tensor(o.labelSmoothing, at::kFloat);
  const at::Tensor x = o.beta * p.delta;
  const at::Tensor qw = at::sigmoid(x), logQw = logsig(x), logPw = at::log1p(-eps);
  const at::Tensor ql = at::sigmoid(-x), logQl = logsig(-x), logPl = at::log(eps);
  return qw * (logQw - logPw) + ql * (logQl - logPl);
}

// NCA, Chen et al. 2024 (https://huggingface.co/papers/2402.05369); TRL "nca_pair".
at::Tensor ncaPairLoss(const Pairs& p, const DpoLossOptions& o) {
  const at::Tensor c = o.beta * p.chosenLogratios, r = o.beta * p.rejectedLogratios;
  return -logsig(c) - 0.5 * logsig(-c) - 0.5 * logsig(-r);
}

// Robust DPO, Chowdhury et al. 2024 (https://huggingface.co/papers/2403.00409); TRL "robust".
at::Tensor robustLoss(const Pairs& p, const DpoLossOptions& o) {
  const double ls = o.labelSmoothing;
  const at::Tensor clean = -(1 - ls) * logsig(o.beta * p.delta);
  const at::Tensor flipped = -ls * logsig(-o.beta * p.delta);
  return (clean - flipped) / (1 - 2 * ls);
}

// BCO on pairs, Jung et al. 2024 (https://huggingface.co/papers/2404.04656); TRL "bco_pair".
at::Tensor bcoPairLoss(const Pairs& p, const DpoLossOptions& o) {
  return -logsig(o.beta * p.chosenLogratios) - logsig(-(o.beta * p.rejectedLogratios));
}

// SPPO with hard probabilities, Wu et al. 2024 (https://huggingface.co/papers/2405.00675); TRL "sppo_hard".
at::Tensor sppoHardLoss(const Pairs& p, const DpoLossOptions& o) {
  return (p.chosenLogratios - 0.5 / o.beta).pow(2) + (p.rejectedLogratios + 0.5 / o.beta).pow(2);
}

// The label-smoothed logistic loss of a sorted margin, shared by the two AOT variants.
at::Tensor smoothedLogistic(const at::Tensor& delta, const DpoLossOptions& o) {
  return -logsig(o.beta * delta) * (1 - o.labelSmoothing) - logsig(-o.beta * delta) * o.labelSmoothing;
}

// AOT, Melnyk et al. 2024 (https://huggingface.co/papers/2406.05882), paired: sorted policy vs sorted
// reference chosen−rejected margins; TRL "aot".
at::Tensor aotLoss(const Pairs& p, const DpoLossOptions& o) {
  const at::Tensor logratios = std::get<0>(at::sort(p.chosenLogps - p.rejectedLogps, 0));
  const at::Tensor refLogratios = std::get<0>(at::sort(p.refChosenLogps - p.refRejectedLogps, 0));
  return smoothedLogistic(logratios - refLogratios, o);
}

// AOT unpaired: sorted chosen vs sorted rejected log-ratios; TRL "aot_unpaired".
at::Tensor aotUnpairedLoss(const Pairs& p, const DpoLossOptions& o) {
  const at::Tensor c = std::get<0>(at::sort(p.chosenLogratios, 0)), r = std::get<0>(at::sort(p.rejectedLogratios, 0));
  return smoothedLogistic(c - r, o);
}

// APO-zero, D'Oosterlinck et al. 2024 (https://huggingface.co/papers/2408.06266) Eq. 7; TRL "apo_zero".
at::Tensor apoZeroLoss(const Pairs& p, const DpoLossOptions& o) {
  return (1 - at::sigmoid(o.beta * p.chosenLogratios)) + at::sigmoid(o.beta * p.rejectedLogratios);
}

// APO-down, same paper Eq. 8; TRL "apo_down".
at::Tensor apoDownLoss(const Pairs& p, const DpoLossOptions& o) {
  return at::sigmoid(o.beta * p.chosenLogratios) +
         (1 - at::sigmoid(o.beta * (p.chosenLogratios - p.rejectedLogratios)));
}

// DiscoPOP, Chris Lu et al. 2024 (https://huggingface.co/papers/2406.08414) Eq. 5; TRL "discopop".
at::Tensor discopopLoss(const Pairs& p, const DpoLossOptions& o) {
  const at::Tensor logits = p.delta * o.beta;
  const at::Tensor modulation = at::sigmoid(logits / o.discopopTau);
  return -logsig(logits) * (1 - modulation) + at::exp(-logits) * modulation;
}

// Cross-entropy on the chosen completions (RPO's NLL term, Pang et al. 2024,
// https://huggingface.co/papers/2404.19733); TRL "sft", one batch mean broadcast to every pair.
at::Tensor sftLoss(const Pairs& p, const DpoLossOptions&) { return p.sftLoss.expand({p.chosenLogps.size(0)}); }

// Length-normalised DPO (per-token-averaged scores, as SimPO/R-DPO normalise); TRL "sigmoid_norm".
at::Tensor sigmoidNormLoss(const Pairs& p, const DpoLossOptions& o) {
  const at::Tensor d = p.chosenScores / p.chosenLengths.clamp_min(1.0) - p.rejectedScores / p.rejectedLengths.clamp_min(1.0);
  return -logsig(o.beta * d);
}

using LossFn = std::function<at::Tensor(const Pairs&, const DpoLossOptions&)>;

const std::map<std::string, LossFn>& lossFunctions() {
  static const std::map<std::string, LossFn> fns = {
      {"sigmoid", sigmoidLoss},       {"hinge", hingeLoss},         {"ipo", ipoLoss},
      {"exo_pair", exoPairLoss},      {"nca_pair", ncaPairLoss},    {"robust", robustLoss},
      {"bco_pair", bcoPairLoss},      {"sppo_hard", sppoHardLoss},  {"aot", aotLoss},
      {"aot_unpaired", aotUnpairedLoss}, {"apo_zero", apoZeroLoss}, {"apo_down", apoDownLoss},
      {"discopop", discopopLoss},     {"sft", sftLoss},             {"sigmoid_norm", sigmoidNormLoss},
  };
  return fns;
}

// f'(t) of the f-divergence at t = exp(log-ratio): f-DPO, Wang et al. 2023 (https://huggingface.co/papers/2309.16240).
at::Tensor fDivergenceScore(const at::Tensor& logratio, const DpoLossOptions& o) {
  const std::string& f = o.fDivergenceType;
  if (f == "reverse_kl") return logratio;
  if (f == "forward_kl") return 1 - at::exp(-logratio);
  if (f == "js_divergence") return std::log(2.0) + logsig(logratio);
  // alpha_divergence: (t^(α-1) − 1)/(α-1), reverse KL in the limit α → 1.
  if (std::abs(o.fAlphaDivergenceCoef - 1.0) < 1e-6) return logratio;
  const double coef = 1.0 / (o.fAlphaDivergenceCoef - 1.0);
  return (at::exp(((o.fAlphaDivergenceCoef - 1.0) * logratio).clamp_max(80.0)) - 1.0) * coef;
}

// WPO weights, Zhou et al. 2024 (https://huggingface.co/papers/2406.11827) Eq. 2: exp of the mean over completion
// tokens of log p(token) − log Σ_v p_v², detached; (2B).
at::Tensor wpoWeights(const DpoLossInputs& in) {
  at::NoGradGuard noGrad;
  return at::exp((in.logps.detach() - in.logSumSquaredProbs) / in.predictedTokens.to(at::kFloat).clamp_min(1.0));
}

}  // namespace

void validateDpoLossOptions(const DpoLossOptions& o) {
  if (o.lossType.empty()) throw invalidArgument("dpo: loss_type must name at least one loss");
  for (const std::string& t : o.lossType)
    if (!lossFunctions().count(t))
      throw invalidArgument("dpo: unknown loss_type '" + t + "'; expected one of sigmoid, hinge, ipo, exo_pair, "
                            "nca_pair, robust, bco_pair, sppo_hard, aot, aot_unpaired, apo_zero, apo_down, discopop, "
                            "sft, sigmoid_norm");
  if (!o.lossWeights.empty() && o.lossWeights.size() != o.lossType.size())
    throw invalidArgument("dpo: loss_weights has " + std::to_string(o.lossWeights.size()) + " values for " +
                          std::to_string(o.lossType.size()) + " loss types");
  const std::string& f = o.fDivergenceType;
  if (f != "reverse_kl" && f != "forward_kl" && f != "js_divergence" && f != "alpha_divergence")
    throw invalidArgument("dpo: unknown f_divergence_type '" + f + "'");
  static const char* fTypes[] = {"sigmoid", "sigmoid_norm", "hinge", "ipo", "exo_pair", "robust", "discopop", "sft"};
  if (f != "reverse_kl")
    for (const std::string& t : o.lossType)
      if (std::find(std::begin(fTypes), std::end(fTypes), t) == std::end(fTypes))
        throw invalidArgument("dpo: f_divergence_type '" + f + "' does not apply to loss_type '" + t + "'");
  for (const std::string& t : o.lossType) {
    if (o.useWeighting && (t == "aot" || t == "aot_unpaired"))
      throw invalidArgument("dpo: use_weighting cannot be combined with loss_type '" + t + "' (it sorts pairs; TRL refuses it too)");
    if (o.useWeighting && t == "sft")
      throw invalidArgument("dpo: use_weighting cannot be combined with loss_type 'sft' (TRL 1.13 fails on it: it "
                            "weights the batch's one sft value in place, broadcast to every pair)");
    if (t == "exo_pair" && o.labelSmoothing == 0.0)
      throw invalidArgument("dpo: loss_type 'exo_pair' needs label_smoothing > 0 (the EXO paper uses 1e-3)");
  }
}

DpoLoss dpoLoss(const DpoLossInputs& in, const DpoLossOptions& o) {
  validateDpoLossOptions(o);
  if (in.logps.dim() != 1 || in.logps.size(0) % 2 != 0)
    throw invalidArgument("dpo: logps must be (2B) [chosen..., rejected...]");
  if (in.refLogps.sizes() != in.logps.sizes()) throw invalidArgument("dpo: refLogps must have the shape of logps");
  if (o.ldAlpha && !in.tailLogps.defined()) throw invalidArgument("dpo: ld_alpha needs tailLogps");
  // logps as TRL's _compute_loss forms them: shared + ld_alpha · tail = logps + (ld_alpha − 1) · tail.
  const at::Tensor logps = o.ldAlpha ? in.logps + (*o.ldAlpha - 1.0) * in.tailLogps : in.logps;
  const auto pol = logps.chunk(2, 0), ref = in.refLogps.to(at::kFloat).chunk(2, 0);
  const auto lens = in.completionLengths.to(at::kFloat).chunk(2, 0);
  Pairs p;
  p.chosenLogps = pol[0], p.rejectedLogps = pol[1], p.refChosenLogps = ref[0], p.refRejectedLogps = ref[1];
  p.chosenLogratios = p.chosenLogps - p.refChosenLogps;
  p.rejectedLogratios = p.rejectedLogps - p.refRejectedLogps;
  p.chosenScores = fDivergenceScore(p.chosenLogratios, o);
  p.rejectedScores = fDivergenceScore(p.rejectedLogratios, o);
  p.delta = p.chosenScores - p.rejectedScores;
  p.chosenLengths = lens[0], p.rejectedLengths = lens[1];
  // F.cross_entropy over the chosen completion tokens: the plain (not LD-weighted) log-probs.
  p.sftLoss = -in.logps.chunk(2, 0)[0].sum() / in.predictedTokens.chunk(2, 0)[0].sum().to(at::kFloat);

  at::Tensor weights;
  if (o.useWeighting) {
    const auto w = wpoWeights(in).chunk(2, 0);
    weights = w[0] * w[1];
  }
  at::Tensor loss = at::zeros({}, at::kFloat);
  for (size_t i = 0; i < o.lossType.size(); ++i) {
    at::Tensor perPair = lossFunctions().at(o.lossType[i])(p, o);  // (B)
    if (o.useWeighting) perPair = perPair * weights;
    loss = loss + perPair.mean() * (o.lossWeights.empty() ? 1.0 : o.lossWeights[i]);
  }
  DpoLoss out;
  out.loss = loss;
  out.chosenLogps = p.chosenLogps.detach(), out.rejectedLogps = p.rejectedLogps.detach();
  out.chosenRewards = o.beta * p.chosenLogratios.detach();
  out.rejectedRewards = o.beta * p.rejectedLogratios.detach();
  return out;
}

DpoLossGradient dpoLossGradient(const DpoLossInputs& inputs, const DpoLossOptions& options) {
  at::AutoGradMode gradMode(true);
  DpoLossInputs leaf = inputs;
  leaf.logps = inputs.logps.detach().to(at::kFloat).requires_grad_(true);
  leaf.tailLogps = inputs.tailLogps.defined() ? inputs.tailLogps.detach().to(at::kFloat).requires_grad_(true)
                                              : at::zeros_like(leaf.logps).requires_grad_(true);
  DpoLossGradient out;
  out.value = dpoLoss(leaf, options);
  const auto grads = torch::autograd::grad({out.value.loss}, {leaf.logps, leaf.tailLogps}, {}, false, false,
                                           /*allow_unused=*/true);
  out.gradLogps = grads[0].defined() ? grads[0] : at::zeros_like(leaf.logps.detach());
  out.gradTailLogps = grads[1].defined() ? grads[1] : at::zeros_like(leaf.logps.detach());
  out.value.loss = out.value.loss.detach();
  return out;
}

}  // namespace alignkit::train
