#include "train/dpo_loss.h"

#include <ATen/core/grad_mode.h>
#include <torch/csrc/autograd/autograd.h>

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"

namespace alignkit::train {
namespace {

// One batch of B pairs as every loss type sees it, all (B) float32 (lengths as float).
struct Pairs {
  at::Tensor chosenLogps, rejectedLogps;  // policy, LD-weighted when ld_alpha is set
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
  const at::Tensor d =
      p.chosenScores / p.chosenLengths.clamp_min(1.0) - p.rejectedScores / p.rejectedLengths.clamp_min(1.0);
  return (d - 1 / (2 * o.beta)).pow(2);
}

// EXO-pref, Ji et al. 2024 (https://huggingface.co/papers/2402.00856) Eq. 16; TRL "exo_pair" (ε = label_smoothing).
at::Tensor exoPairLoss(const Pairs& p, const DpoLossOptions& o) {
  const at::Tensor eps = at::scalar_tensor(o.label_smoothing, at::kFloat);
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
  const double ls = o.label_smoothing;
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
  return -logsig(o.beta * delta) * (1 - o.label_smoothing) - logsig(-o.beta * delta) * o.label_smoothing;
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
  const at::Tensor modulation = at::sigmoid(logits / o.discopop_tau);
  return -logsig(logits) * (1 - modulation) + at::exp(-logits) * modulation;
}

// Cross-entropy on the chosen completions (RPO's NLL term, Pang et al. 2024,
// https://huggingface.co/papers/2404.19733); TRL "sft", one batch mean broadcast to every pair.
at::Tensor sftLoss(const Pairs& p, const DpoLossOptions&) { return p.sftLoss.expand({p.chosenLogps.size(0)}); }

// Length-normalised DPO (per-token-averaged scores, as SimPO/R-DPO normalise); TRL "sigmoid_norm".
at::Tensor sigmoidNormLoss(const Pairs& p, const DpoLossOptions& o) {
  const at::Tensor d =
      p.chosenScores / p.chosenLengths.clamp_min(1.0) - p.rejectedScores / p.rejectedLengths.clamp_min(1.0);
  return -logsig(o.beta * d);
}

using LossFn = at::Tensor (*)(const Pairs&, const DpoLossOptions&);

// What the rules between options need to know of a loss type (TRL's DPOTrainer.__init__ and the formulas).
enum LossFacts : unsigned {
  kNone = 0,
  kFDivergence = 1,               // built on the chosen−rejected score difference: takes any f_divergence_type
  kSortsPairs = 2,                // sorts the batch's pairs: no WPO weighting (TRL refuses use_weighting)
  kBatchValue = 4,                // one batch value broadcast to every pair: no WPO weighting (TRL 1.13 fails on it)
  kBetaFree = 8,                  // its formula does not read beta
  kNeedsLabelSmoothing = 16,      // takes log(label_smoothing): label_smoothing > 0
  kLabelSmoothingBelowHalf = 32,  // divides by 1 − 2·label_smoothing: label_smoothing < 0.5
};

struct LossType {
  const char* name;  // TRL's loss_type
  LossFn fn;
  unsigned facts;
};

// The registry: TRL's loss_type name → its function and facts, in TRL's order. A new loss type is one function
// above and one line here; the catalogue, the binding and the config check read the names from this list.
const std::vector<LossType>& lossTypes() {
  static const std::vector<LossType> types = {
      {"sigmoid", sigmoidLoss, kFDivergence},
      {"hinge", hingeLoss, kFDivergence},
      {"ipo", ipoLoss, kFDivergence},
      {"exo_pair", exoPairLoss, kFDivergence | kNeedsLabelSmoothing},
      {"nca_pair", ncaPairLoss, kNone},
      {"robust", robustLoss, kFDivergence | kLabelSmoothingBelowHalf},
      {"bco_pair", bcoPairLoss, kNone},
      {"sppo_hard", sppoHardLoss, kNone},
      {"aot", aotLoss, kSortsPairs},
      {"aot_unpaired", aotUnpairedLoss, kSortsPairs},
      {"apo_zero", apoZeroLoss, kNone},
      {"apo_down", apoDownLoss, kNone},
      {"discopop", discopopLoss, kFDivergence},
      {"sft", sftLoss, kFDivergence | kBatchValue | kBetaFree},
      {"sigmoid_norm", sigmoidNormLoss, kFDivergence},
  };
  return types;
}

const LossType& lossType(const std::string& name) {
  for (const LossType& t : lossTypes())
    if (name == t.name) return t;
  throw invalidArgument("dpo: unknown loss_type '" + name + "'");  // validateDpoLossOptions names the choices first
}

// f'(t) of the f-divergence at t = exp(log-ratio): f-DPO, Wang et al. 2023 (https://huggingface.co/papers/2309.16240).
at::Tensor reverseKlScore(const at::Tensor& logratio, const DpoLossOptions&) { return logratio; }
at::Tensor forwardKlScore(const at::Tensor& logratio, const DpoLossOptions&) { return 1 - at::exp(-logratio); }
at::Tensor jsDivergenceScore(const at::Tensor& logratio, const DpoLossOptions&) {
  return std::log(2.0) + logsig(logratio);
}
// (t^(α-1) − 1)/(α-1), reverse KL in the limit α → 1.
at::Tensor alphaDivergenceScore(const at::Tensor& logratio, const DpoLossOptions& o) {
  if (std::abs(o.f_alpha_divergence_coef - 1.0) < 1e-6) return logratio;
  const double coef = 1.0 / (o.f_alpha_divergence_coef - 1.0);
  return (at::exp(((o.f_alpha_divergence_coef - 1.0) * logratio).clamp_max(80.0)) - 1.0) * coef;
}

using ScoreFn = at::Tensor (*)(const at::Tensor&, const DpoLossOptions&);

// TRL's f_divergence_type names → f'; reverse_kl (the plain log-ratio) is standard DPO.
const std::vector<std::pair<std::string, ScoreFn>>& fDivergences() {
  static const std::vector<std::pair<std::string, ScoreFn>> fs = {
      {"reverse_kl", reverseKlScore},
      {"forward_kl", forwardKlScore},
      {"js_divergence", jsDivergenceScore},
      {"alpha_divergence", alphaDivergenceScore},
  };
  return fs;
}

at::Tensor fDivergenceScore(const at::Tensor& logratio, const DpoLossOptions& o) {
  for (const auto& [name, fn] : fDivergences())
    if (name == o.f_divergence_type) return fn(logratio, o);
  throw invalidArgument("dpo: unknown f_divergence_type '" + o.f_divergence_type + "'");
}

// The names in `types` of the loss types with all of `facts`, in registration order.
std::vector<std::string> lossTypesWith(const std::vector<std::string>& types, unsigned facts) {
  std::vector<std::string> out;
  for (const std::string& t : types)
    if ((lossType(t).facts & facts) == facts) out.push_back(t);
  return out;
}

// WPO weights, Zhou et al. 2024 (https://huggingface.co/papers/2406.11827) Eq. 2: exp of the mean over completion
// tokens of log p(token) − log Σ_v p_v², detached; (2B).
at::Tensor wpoWeights(const DpoLossInputs& in) {
  at::NoGradGuard noGrad;
  return at::exp((in.logps.detach() - in.logSumSquaredProbs) / in.predictedTokens.to(at::kFloat).clamp_min(1.0));
}

}  // namespace

const OptionCatalogue<DpoLossOptions>& dpoLossCatalogue() {
  static const OptionCatalogue<DpoLossOptions> catalogue = [] {
    OptionCatalogue<DpoLossOptions> c;
    for (const LossType& t : lossTypes()) c.lossTypes.push_back(t.name);
    std::vector<std::string> fNames;
    for (const auto& f : fDivergences()) fNames.push_back(f.first);
    c.options = {
        option("beta", &DpoLossOptions::beta),
        option("loss_type", &DpoLossOptions::loss_type, c.lossTypes),
        option("loss_weights", &DpoLossOptions::loss_weights),
        option("label_smoothing", &DpoLossOptions::label_smoothing),
        option("use_weighting", &DpoLossOptions::use_weighting),
        option("ld_alpha", &DpoLossOptions::ld_alpha),
        option("f_divergence_type", &DpoLossOptions::f_divergence_type, fNames),
        option("f_alpha_divergence_coef", &DpoLossOptions::f_alpha_divergence_coef),
        option("discopop_tau", &DpoLossOptions::discopop_tau),
    };
    c.validate = validateDpoLossOptions;
    return c;
  }();
  return catalogue;
}

void validateDpoLossOptions(const DpoLossOptions& o) {
  checkChoices(dpoLossCatalogue(), o);
  const std::vector<std::string>& types = o.loss_type;
  if (o.loss_weights && o.loss_weights->size() != types.size())
    throw invalidArgument("'loss_weights' has " + std::to_string(o.loss_weights->size()) + " values for " +
                          std::to_string(types.size()) + " loss types ('loss_type' " + joinNames(types) + ")");
  if (o.f_divergence_type != DpoLossOptions{}.f_divergence_type)  // reverse_kl: standard DPO
    for (const std::string& t : types)
      if (!(lossType(t).facts & kFDivergence))
        throw invalidArgument("'f_divergence_type' " + o.f_divergence_type + " does not apply to 'loss_type' " + t +
                              " (only " + joinNames(lossTypesWith(dpoLossCatalogue().lossTypes, kFDivergence)) +
                              " take one; TRL refuses it too)");
  for (const std::string& t : types) {
    const unsigned facts = lossType(t).facts;
    if (o.use_weighting && (facts & kSortsPairs))
      throw invalidArgument("'use_weighting' cannot be combined with 'loss_type' " + t +
                            " (it sorts pairs; TRL refuses it too)");
    if (o.use_weighting && (facts & kBatchValue))
      throw invalidArgument("'use_weighting' cannot be combined with 'loss_type' " + t +
                            " (TRL 1.13 fails on it: "
                            "it weights the batch's one " +
                            t + " value in place, broadcast to every pair)");
    if ((facts & kNeedsLabelSmoothing) && o.label_smoothing <= 0.0)
      throw invalidArgument("'loss_type' " + t + " needs 'label_smoothing' > 0, got " + shownNumber(o.label_smoothing) +
                            " (the loss takes its log; the EXO paper uses 1e-3)");
    if ((facts & kLabelSmoothingBelowHalf) && o.label_smoothing >= 0.5)
      throw invalidArgument("'label_smoothing' must be below 0.5 for loss_type " + t + ", got " +
                            shownNumber(o.label_smoothing) + " (the loss divides by 1 - 2 * label_smoothing)");
  }
  // Every other loss scales the policy/reference log-ratios by beta (ipo and sppo_hard divide by it): at 0 the loss
  // is flat, below 0 it pushes toward the rejected completions.
  std::vector<std::string> readingBeta;
  for (const std::string& t : types)
    if (!(lossType(t).facts & kBetaFree)) readingBeta.push_back(t);
  if (o.beta <= 0 && !readingBeta.empty())
    throw invalidArgument("'beta' must be above 0 for loss_type " + joinNames(readingBeta) + ", got " +
                          shownNumber(o.beta) +
                          " (the loss scales the log-ratios to the reference by beta: at 0 it learns nothing, below "
                          "0 it learns the opposite preference)");
}

DpoLoss dpoLoss(const DpoLossInputs& in, const DpoLossOptions& o) {
  validateDpoLossOptions(o);
  if (in.logps.dim() != 1 || in.logps.size(0) % 2 != 0)
    throw invalidArgument("dpo: logps must be (2B) [chosen..., rejected...]");
  if (in.refLogps.sizes() != in.logps.sizes()) throw invalidArgument("dpo: refLogps must have the shape of logps");
  if (o.ld_alpha && !in.tailLogps.defined()) throw invalidArgument("dpo: ld_alpha needs tailLogps");
  // logps as TRL's _compute_loss forms them: shared + ld_alpha · tail = logps + (ld_alpha − 1) · tail.
  const at::Tensor logps = o.ld_alpha ? in.logps + (*o.ld_alpha - 1.0) * in.tailLogps : in.logps;
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
  if (o.use_weighting) {
    const auto w = wpoWeights(in).chunk(2, 0);
    weights = w[0] * w[1];
  }
  at::Tensor loss = at::zeros({}, at::kFloat);
  for (size_t i = 0; i < o.loss_type.size(); ++i) {
    at::Tensor perPair = lossType(o.loss_type[i]).fn(p, o);  // (B)
    if (o.use_weighting) perPair = perPair * weights;
    loss = loss + perPair.mean() * (o.loss_weights ? (*o.loss_weights)[i] : 1.0);
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
