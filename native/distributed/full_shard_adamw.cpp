#include "distributed/full_shard_adamw.h"

#include <ATen/core/grad_mode.h>

#include <map>

#include "common/error.h"

namespace alignkit::distributed {

FullShardAdamW::FullShardAdamW(std::shared_ptr<FullShard> shard, train::AdamWOptions options)
    : shard_(std::move(shard)), pieces_(shard_->pieces()), adamw_(pieces_, options) {
  for (const auto& [name, p] : shard_->parameters())
    if (train::appliesWeightDecay(name)) decayNames_.push_back(name);
}

double FullShardAdamW::clipGradNorm(double maxNorm) {
  shard_->finishBackward();
  at::NoGradGuard noGrad;
  const auto& layout = shard_->pieceLayout();
  std::vector<at::Tensor> grads;
  std::vector<int64_t> slots;
  for (size_t k = 0; k < pieces_.size(); ++k) {
    const at::Tensor& grad = pieces_[k].second.grad();
    if (!grad.defined()) continue;
    grads.push_back(grad);
    slots.push_back(static_cast<int64_t>(layout[k].param));
  }
  // Each parameter's squared norm, summed over the slices of every rank (in float64), then torch's
  // clip_grad_norm_: the norm of the per-parameter norms.
  const int64_t count = static_cast<int64_t>(shard_->parameters().size());
  at::Tensor squares = at::zeros({count}, at::TensorOptions(at::kDouble));
  if (!grads.empty()) {
    const at::Tensor norms = at::stack(at::_foreach_norm(grads, 2)).to(at::kDouble);
    squares.index_add_(0, at::tensor(slots, at::kLong), norms * norms);
  }
  shard_->group().allReduceSum(squares);
  const at::Tensor total = at::linalg_vector_norm(squares.sqrt().to(at::kFloat), 2);
  if (!grads.empty()) {
    const at::Tensor clipCoef = (total.to(grads[0].device()) + 1e-6).reciprocal() * maxNorm;
    at::_foreach_mul_(grads, at::clamp(clipCoef, std::nullopt, 1.0));
  }
  return total.item<double>();
}

void FullShardAdamW::step(double lr) {
  shard_->finishBackward();
  shard_->releaseAll();
  adamw_.step(lr);
}

models::NamedTensors FullShardAdamW::gatherState(bool keep) {
  shard_->finishBackward();
  at::NoGradGuard noGrad;
  std::map<std::string, at::Tensor> mine;
  for (auto& [name, t] : adamw_.state()) mine.emplace(name, t);
  const auto& layout = shard_->pieceLayout();
  const models::NamedTensors& parameters = shard_->parameters();
  std::map<std::string, at::Tensor> all;
  for (const char* suffix : {".exp_avg", ".exp_avg_sq"}) {
    std::vector<at::Tensor> shards;
    for (size_t u = 0; u < shard_->numUnits(); ++u) {
      const at::Tensor& some = parameters[0].second;
      shards.push_back(at::zeros({shard_->shardNumel(u)}, some.options().requires_grad(false)));
    }
    for (size_t k = 0; k < layout.size(); ++k)
      shards[layout[k].unit]
          .narrow(0, layout[k].shardOffset, layout[k].length)
          .copy_(mine.at(pieces_[k].first + suffix));
    shard_->gatherFlat(shards, [&](size_t param, const at::Tensor& whole) {
      if (keep) {
        const at::Tensor& p = parameters[param].second;
        all.emplace(parameters[param].first + suffix,
                    whole.view(shard_->parameterShape(param)).to(at::kCPU, p.scalar_type(), false, true));
      }
    });
  }
  // Every rank holding a slice of a parameter has its step count; the count is their mean (they are equal).
  const int64_t count = static_cast<int64_t>(parameters.size());
  std::vector<double> sums(2 * static_cast<size_t>(count), 0.0);
  for (size_t k = 0; k < layout.size(); ++k) {
    sums[layout[k].param] = mine.at(pieces_[k].first + ".step").item<double>();
    sums[static_cast<size_t>(count) + layout[k].param] = 1.0;
  }
  at::Tensor steps = at::tensor(sums, at::TensorOptions(at::kDouble)).view({2, count});
  shard_->group().allReduceSum(steps);
  models::NamedTensors out;
  if (!keep) return out;
  const at::Tensor step = (steps[0] / steps[1]).to(at::kFloat);
  for (int64_t i = 0; i < count; ++i) {
    const std::string& name = parameters[static_cast<size_t>(i)].first;
    out.emplace_back(name + ".exp_avg", all.at(name + ".exp_avg"));
    out.emplace_back(name + ".exp_avg_sq", all.at(name + ".exp_avg_sq"));
    out.emplace_back(name + ".step", step[i].clone());
  }
  return out;
}

void FullShardAdamW::loadState(const models::NamedTensors& state, const std::string& where) {
  std::map<std::string, at::Tensor> byName(state.begin(), state.end());
  const models::NamedTensors& parameters = shard_->parameters();
  // The whole file is checked against the unsharded shapes (recorded when sharding), then each rank takes its slices.
  std::map<std::string, std::vector<int64_t>> shapes;
  for (size_t i = 0; i < parameters.size(); ++i) {
    const std::string& name = parameters[i].first;
    for (const char* suffix : {".exp_avg", ".exp_avg_sq", ".step"}) {
      auto it = byName.find(name + suffix);
      if (it == byName.end()) throw invalidArgument(where + ": optimizer state has no tensor " + name + suffix);
      const std::vector<int64_t> expected =
          std::string(suffix) == ".step" ? std::vector<int64_t>{} : shard_->parameterShape(i);
      if (it->second.sizes() != at::IntArrayRef(expected))
        throw invalidArgument(where + ": optimizer state tensor " + name + suffix + " has shape " +
                              c10::str(it->second.sizes()) + ", expected " + c10::str(at::IntArrayRef(expected)));
    }
  }
  for (const auto& [name, t] : byName) {
    bool known = false;
    for (const char* suffix : {".exp_avg", ".exp_avg_sq", ".step"}) {
      const std::string s(suffix);
      if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) {
        const std::string param = name.substr(0, name.size() - s.size());
        for (const auto& [n, p] : parameters) known = known || n == param;
      }
    }
    if (!known)
      throw invalidArgument(where + ": optimizer state tensor " + name + " belongs to no parameter of this model");
  }
  const auto& layout = shard_->pieceLayout();
  models::NamedTensors mine;
  for (size_t k = 0; k < layout.size(); ++k) {
    const std::string& name = pieces_[k].first;
    for (const char* suffix : {".exp_avg", ".exp_avg_sq"})
      mine.emplace_back(name + suffix,
                        byName.at(name + suffix).reshape(-1).narrow(0, layout[k].paramOffset, layout[k].length));
    mine.emplace_back(name + ".step", byName.at(name + ".step"));
  }
  adamw_.loadState(mine, where);
}

}  // namespace alignkit::distributed
