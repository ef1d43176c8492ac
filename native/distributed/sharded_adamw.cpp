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

// `tensors` (the same shapes and dtypes on every rank) take root's values, one coalesced broadcast per bucket.
void broadcastInBuckets(ProcessGroup& group, const std::vector<at::Tensor>& tensors, int root, int64_t bucketBytes) {
  size_t begin = 0;
  while (begin < tensors.size()) {
    size_t end = begin + 1;
    int64_t bytes = static_cast<int64_t>(tensors[begin].nbytes());
    while (end < tensors.size() && bytes + static_cast<int64_t>(tensors[end].nbytes()) <= bucketBytes)
      bytes += static_cast<int64_t>(tensors[end++].nbytes());
    group.broadcast({tensors.begin() + begin, tensors.begin() + end}, root);
    begin = end;
  }
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
                           train::AdamWOptions options, int64_t bucketBytes, bool gradientsSharded)
    : group_(std::move(group)),
      bucketBytes_(bucketBytes),
      gradientsSharded_(gradientsSharded),
      parameters_(parameters),
      owner_(partitionParameters(parameters, group_->worldSize())),
      adamw_(parameters, options, ownedBy(owner_, group_->rank())) {}

void ShardedAdamW::step(double lr) {
  adamw_.step(lr);
  for (int rank = 0; rank < group_->worldSize(); ++rank) {
    std::vector<at::Tensor> owned;
    for (size_t i = 0; i < parameters_.size(); ++i)
      if (owner_[i] == rank) owned.push_back(parameters_[i].second);
    broadcastInBuckets(*group_, owned, rank, bucketBytes_);
  }
}

double ShardedAdamW::clipGradNorm(double maxNorm) {
  if (!gradientsSharded_) return train::clipGradNorm(parameters_, maxNorm);
  at::NoGradGuard noGrad;
  std::vector<at::Tensor> grads;
  std::vector<int64_t> slots;
  for (size_t i = 0; i < parameters_.size(); ++i) {
    const at::Tensor& grad = parameters_[i].second.grad();
    if (owner_[i] != group_->rank() || !grad.defined()) continue;
    grads.push_back(grad);
    slots.push_back(static_cast<int64_t>(i));
  }
  // torch's clip_grad_norm_ takes the norm of the per-gradient norms. Each owner puts its gradients' norms in their
  // parameters' slots of one vector, zeros elsewhere; summed over the ranks (x + 0 is exact) it is the vector of
  // every gradient's norm, and its norm is the global one: the summed squares over the shards, as FSDP's
  // clip_grad_norm_ all-reduces them, but rounded exactly as the unsharded clip rounds them.
  at::Tensor norms =
      at::zeros({static_cast<int64_t>(parameters_.size())}, at::TensorOptions(at::kFloat).device(group_->device()));
  if (!grads.empty())
    norms.index_put_({at::tensor(slots, at::kLong).to(norms.device())},
                     at::stack(at::_foreach_norm(grads, 2)).to(norms.device(), at::kFloat));
  group_->allReduceSum(norms);
  const at::Tensor total = at::linalg_vector_norm(norms, 2);
  if (!grads.empty()) {
    const at::Tensor clipCoef = (total.to(grads[0].device()) + 1e-6).reciprocal() * maxNorm;
    at::_foreach_mul_(grads, at::clamp(clipCoef, std::nullopt, 1.0));
  }
  return total.item<double>();
}

models::NamedTensors ShardedAdamW::gatherState(bool keep) {
  // Each owner sends its exp_avg / exp_avg_sq tensors and its step counts (one float32 vector, as the file keeps
  // float32 scalars); the others receive into buffers shaped like the parameters. A keeping rank moves what it
  // receives to the host at once, so the full state is never on its accelerator.
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
    std::vector<std::string> names;
    std::vector<at::Tensor> steps;
    // The counts travel on the parameters' device (NCCL sends nothing from the host).
    const at::TensorOptions stepOptions = at::TensorOptions(at::kFloat).device(parameters_[owned[0]].second.device());
    for (size_t i : owned) {
      names.push_back(parameters_[i].first + ".exp_avg");
      names.push_back(parameters_[i].first + ".exp_avg_sq");
      steps.push_back(root ? mine.at(parameters_[i].first + ".step").to(stepOptions) : at::empty({}, stepOptions));
    }
    // One bucket at a time: allocate, receive, keep (on the host) or drop.
    size_t begin = 0;
    while (begin < names.size()) {
      std::vector<at::Tensor> bucket;
      int64_t bytes = 0;
      size_t end = begin;
      for (; end < names.size(); ++end) {
        const at::Tensor& p = parameters_[owned[end / 2]].second;
        if (end > begin && bytes + static_cast<int64_t>(p.nbytes()) > bucketBytes_) break;
        bytes += static_cast<int64_t>(p.nbytes());
        bucket.push_back(root ? mine.at(names[end]) : at::empty_like(p, at::MemoryFormat::Contiguous));
      }
      group_->broadcast(bucket, rank);
      if (keep)
        for (size_t k = begin; k < end; ++k) all.emplace(names[k], root ? bucket[k - begin] : bucket[k - begin].cpu());
      begin = end;
    }
    at::Tensor stepVector = at::stack(steps);
    group_->broadcast({stepVector}, rank);
    if (keep)
      for (size_t k = 0; k < owned.size(); ++k)
        all.emplace(parameters_[owned[k]].first + ".step",
                    stepVector[k].to(at::kCPU, /*non_blocking=*/false, /*copy=*/true));
  }
  models::NamedTensors out;
  if (!keep) return out;
  for (const auto& [name, p] : parameters_)
    for (const char* suffix : {".exp_avg", ".exp_avg_sq", ".step"})
      out.emplace_back(name + suffix, all.at(name + suffix));
  return out;
}

}  // namespace alignkit::distributed
