#include "distributed/sharded_adamw.h"

#include <algorithm>
#include <map>

#include <ATen/core/grad_mode.h>

namespace alignkit::distributed {
namespace {

std::vector<bool> ownedBy(const std::vector<int>& owner, int rank) {
  std::vector<bool> owned(owner.size());
  for (size_t i = 0; i < owner.size(); ++i) owned[i] = owner[i] == rank;
  return owned;
}

}  // namespace

std::vector<int> partitionParameters(const models::NamedTensors& parameters, int worldSize) {
  std::vector<int> owner(parameters.size(), 0);
  std::vector<int64_t> sizes(worldSize, 0);
  for (const bool decayGroup : {true, false}) {
    std::vector<size_t> group;
    for (size_t i = 0; i < parameters.size(); ++i)
      if (train::appliesWeightDecay(parameters[i].first) == decayGroup) group.push_back(i);
    std::stable_sort(group.begin(), group.end(),
                     [&](size_t a, size_t b) { return parameters[a].second.numel() > parameters[b].second.numel(); });
    for (size_t i : group) {
      const int rank = static_cast<int>(std::min_element(sizes.begin(), sizes.end()) - sizes.begin());
      owner[i] = rank;
      sizes[rank] += parameters[i].second.numel();
    }
  }
  return owner;
}

ShardedAdamW::ShardedAdamW(std::shared_ptr<ProcessGroup> group, const models::NamedTensors& parameters,
                           train::AdamWOptions options)
    : group_(std::move(group)),
      parameters_(parameters),
      owner_(partitionParameters(parameters, group_->worldSize())),
      adamw_(parameters, options, ownedBy(owner_, group_->rank())) {}

void ShardedAdamW::step(double lr) {
  adamw_.step(lr);
  for (int rank = 0; rank < group_->worldSize(); ++rank) {
    std::vector<at::Tensor> owned;
    for (size_t i = 0; i < parameters_.size(); ++i)
      if (owner_[i] == rank) owned.push_back(parameters_[i].second);
    if (!owned.empty()) group_->broadcast(owned, rank);
  }
}

models::NamedTensors ShardedAdamW::gatherState(bool keep) {
  // Each owner's exp_avg, exp_avg_sq and steps (one float32 vector, as the file keeps float32 scalars) in one
  // coalesced broadcast; the others receive into buffers shaped like the parameters.
  std::map<std::string, at::Tensor> mine;
  for (auto& [name, t] : adamw_.state()) mine.emplace(name, t);
  std::map<std::string, at::Tensor> all;
  at::NoGradGuard noGrad;
  for (int rank = 0; rank < group_->worldSize(); ++rank) {
    const bool root = rank == group_->rank();
    std::vector<size_t> owned;
    for (size_t i = 0; i < parameters_.size(); ++i)
      if (owner_[i] == rank) owned.push_back(i);
    if (owned.empty()) continue;
    std::vector<at::Tensor> moments;
    std::vector<at::Tensor> steps;
    for (size_t i : owned) {
      const auto& [name, p] = parameters_[i];
      for (const char* suffix : {".exp_avg", ".exp_avg_sq"})
        moments.push_back(root ? mine.at(name + suffix) : at::empty_like(p, at::MemoryFormat::Contiguous));
      steps.push_back(root ? mine.at(name + ".step") : at::empty({}, at::kFloat));
    }
    at::Tensor stepVector = at::stack(steps);
    std::vector<at::Tensor> message = moments;
    message.push_back(stepVector);
    group_->broadcast(message, rank);
    if (!keep) continue;
    for (size_t k = 0; k < owned.size(); ++k) {
      const std::string& name = parameters_[owned[k]].first;
      all.emplace(name + ".exp_avg", moments[2 * k]);
      all.emplace(name + ".exp_avg_sq", moments[2 * k + 1]);
      all.emplace(name + ".step", stepVector[k].clone());
    }
  }
  models::NamedTensors out;
  if (!keep) return out;
  for (const auto& [name, p] : parameters_)
    for (const char* suffix : {".exp_avg", ".exp_avg_sq", ".step"}) out.emplace_back(name + suffix, all.at(name + suffix));
  return out;
}

}  // namespace alignkit::distributed
