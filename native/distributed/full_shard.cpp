#include "distributed/full_shard.h"

#include <torch/csrc/autograd/utils/lambda_post_hook.h>
#include <torch/csrc/autograd/variable.h>

#include <ATen/core/grad_mode.h>

#include <algorithm>

#include "common/error.h"

namespace alignkit::distributed {
namespace {

// The decoder layer a parameter belongs to (model.layers.<k>.…), or -1 for the root unit.
int64_t layerOf(const std::string& name) {
  const std::string prefix = "model.layers.";
  if (name.rfind(prefix, 0) != 0) return -1;
  return std::stoll(name.substr(prefix.size()));
}

}  // namespace

std::shared_ptr<FullShard> FullShard::create(std::shared_ptr<ProcessGroup> group,
                                             const models::NamedTensors& parameters, int64_t numLayers) {
  std::shared_ptr<FullShard> shard(new FullShard(std::move(group), parameters, numLayers));
  shard->installHooks();
  return shard;
}

FullShard::FullShard(std::shared_ptr<ProcessGroup> group, const models::NamedTensors& parameters, int64_t numLayers)
    : group_(std::move(group)), parameters_(parameters) {
  const int world = group_->worldSize(), rank = group_->rank();
  units_.resize(static_cast<size_t>(numLayers) + 1);
  unitOf_.resize(parameters_.size());
  for (size_t i = 0; i < parameters_.size(); ++i) {
    const auto& [name, p] = parameters_[i];
    const int64_t layer = layerOf(name);
    const size_t unit = layer < 0 ? units_.size() - 1 : static_cast<size_t>(layer);
    if (unit >= units_.size()) throw invalidArgument("zero_stage 3: parameter " + name + " is in no decoder layer");
    Unit& u = units_[unit];
    if (!u.params.empty() && parameters_[u.params[0]].second.scalar_type() != p.scalar_type())
      throw invalidArgument("zero_stage 3: the parameters of one unit must share a dtype (" + name + " does not)");
    unitOf_[i] = unit;
    u.params.push_back(i);
    u.offsets.push_back(u.numel);
    u.numel += p.numel();
    shapes_.push_back(p.sizes().vec());
  }
  at::NoGradGuard noGrad;
  for (size_t k = 0; k < units_.size(); ++k) {
    Unit& u = units_[k];
    if (u.params.empty()) throw invalidArgument("zero_stage 3: unit " + std::to_string(k) + " has no parameters");
    u.shardNumel = (u.numel + world - 1) / world;
    const at::Tensor& first = parameters_[u.params[0]].second;
    // This rank's slice of the flat unit, zero past its end (the padding).
    u.shard = at::zeros({u.shardNumel}, first.options().requires_grad(false));
    const int64_t begin = rank * u.shardNumel, end = begin + u.shardNumel;
    for (size_t j = 0; j < u.params.size(); ++j) {
      const int64_t from = std::max(begin, u.offsets[j]);
      const int64_t to = std::min(end, u.offsets[j] + parameters_[u.params[j]].second.numel());
      if (from >= to) continue;
      const at::Tensor flat = parameters_[u.params[j]].second.detach().reshape(-1);
      u.shard.narrow(0, from - begin, to - from).copy_(flat.narrow(0, from - u.offsets[j], to - from));
      pieces_.push_back({u.params[j], k, from - u.offsets[j], from - begin, to - from});
    }
  }
  std::sort(pieces_.begin(), pieces_.end(), [](const Piece& a, const Piece& b) { return a.param < b.param; });
  for (const Piece& piece : pieces_)
    pieceTensors_.emplace_back(parameters_[piece.param].first,
                               units_[piece.unit].shard.narrow(0, piece.shardOffset, piece.length));
}

void FullShard::installHooks() {
  // The accumulators are created (and held) while the parameters are whole: their input metadata is the shape
  // backward's gradients have. Then every unit is freed.
  std::weak_ptr<FullShard> weak = weak_from_this();
  for (size_t i = 0; i < parameters_.size(); ++i) {
    auto accumulator = torch::autograd::impl::grad_accumulator(parameters_[i].second);
    if (!accumulator) throw invalidArgument("zero_stage 3: parameter " + parameters_[i].first + " needs no gradient");
    const uintptr_t key = accumulator->add_post_hook(std::make_unique<torch::autograd::utils::LambdaPostHook>(
        [weak, i](const torch::autograd::variable_list& outputs, const torch::autograd::variable_list&) {
          if (auto self = weak.lock()) self->gradientReady(i);
          return outputs;
        }));
    hooks_.emplace_back(std::move(accumulator), key);
  }
  for (size_t k = 0; k < units_.size(); ++k) free(k);
}

FullShard::~FullShard() {
  for (auto& [accumulator, key] : hooks_) accumulator->del_post_hook(key);
}

void FullShard::prefetch(size_t unit) {
  Unit& u = units_[unit];
  if (u.forSave) free(unit);
  if (u.full.defined()) return;
  u.full = at::empty({u.shardNumel * group_->worldSize()}, u.shard.options());
  u.gather = group_->allGatherIntoAsync(u.full, u.shard);
  peakParameterBytes_ = std::max(peakParameterBytes_, parameterBytes());
}

void FullShard::gather(size_t unit) {
  prefetch(unit);
  Unit& u = units_[unit];
  if (!u.gather) return;
  group_->wait(u.gather, "the all-gather of unit " + std::to_string(unit) + "'s parameters");
  u.gather.reset();
  at::NoGradGuard noGrad;
  for (size_t j = 0; j < u.params.size(); ++j) {
    at::Tensor p = parameters_[u.params[j]].second;
    const std::vector<int64_t>& shape = shapes_[u.params[j]];
    p.set_data(u.full.narrow(0, u.offsets[j], c10::multiply_integers(shape)).view(shape));
  }
}

void FullShard::free(size_t unit) {
  Unit& u = units_[unit];
  if (u.gather) {
    group_->wait(u.gather, "the all-gather of unit " + std::to_string(unit) + "'s parameters");
    u.gather.reset();
  }
  at::NoGradGuard noGrad;
  for (size_t i : u.params) {
    at::Tensor p = parameters_[i].second;
    p.set_data(at::empty({0}, p.options()));
  }
  u.full = at::Tensor();
  u.inBackward = false;
  u.forSave = false;
}

void FullShard::beginForward() {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  gather(rootUnit());
  if (rootUnit() > 0) prefetch(0);
}

void FullShard::beforeLayer(size_t layer) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  gather(layer);
  if (layer + 1 < rootUnit()) prefetch(layer + 1);
}

void FullShard::afterLayer(size_t layer, const at::Tensor& output) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  free(layer);
  if (!output.requires_grad()) return;
  std::weak_ptr<FullShard> weak = weak_from_this();
  output.register_hook([weak, layer](const at::Tensor&) {
    if (auto self = weak.lock()) self->gatherForBackward(layer);
    return at::Tensor();
  });
}

void FullShard::gatherForBackward(size_t layer) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  gather(layer);
  units_[layer].inBackward = true;
  if (layer > 0) prefetch(layer - 1);
}

void FullShard::gradientReady(size_t param) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  Unit& u = units_[unitOf_[param]];
  if (++u.ready == u.params.size()) reduce(unitOf_[param]);
}

void FullShard::reduce(size_t unit) {
  Unit& u = units_[unit];
  at::NoGradGuard noGrad;
  const int world = group_->worldSize();
  at::Tensor input = at::zeros({u.shardNumel * world}, u.shard.options());
  for (size_t j = 0; j < u.params.size(); ++j) {
    at::Tensor p = parameters_[u.params[j]].second;
    if (p.grad().defined()) input.narrow(0, u.offsets[j], p.grad().numel()).copy_(p.grad().reshape(-1));
    p.mutable_grad() = at::Tensor();
  }
  u.ready = 0;
  free(unit);
  // DDP's average: divide by the world size, then sum. One reduce-scatter in flight: the previous one is waited for
  // now, so at most two units' flat gradients exist at once.
  input.div_(world);
  finishReduce();
  at::Tensor output = at::empty({u.shardNumel}, u.shard.options());
  pending_ = PendingReduce{unit, input, output, group_->reduceScatterSumAsync(output, input)};
}

void FullShard::finishReduce() {
  if (!pending_) return;
  PendingReduce done = std::move(*pending_);
  pending_.reset();
  group_->wait(done.work, "the reduce-scatter of unit " + std::to_string(done.unit) + "'s gradients");
  Unit& u = units_[done.unit];
  at::NoGradGuard noGrad;
  if (u.shardGrad.defined()) {
    u.shardGrad.add_(done.output);
  } else {
    u.shardGrad = done.output;
    linkPieceGrads(done.unit);
  }
}

void FullShard::linkPieceGrads(size_t unit) {
  for (size_t k = 0; k < pieces_.size(); ++k) {
    if (pieces_[k].unit != unit) continue;
    const Unit& u = units_[unit];
    pieceTensors_[k].second.mutable_grad() =
        u.shardGrad.defined() ? u.shardGrad.narrow(0, pieces_[k].shardOffset, pieces_[k].length) : at::Tensor();
  }
}

void FullShard::finishBackward() {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  for (size_t k = 0; k < units_.size(); ++k)
    if (units_[k].ready > 0) reduce(k);
  finishReduce();
  for (size_t k = 0; k < units_.size(); ++k)
    if (units_[k].inBackward) free(k);
}

void FullShard::zeroGrad() {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  finishBackward();
  for (size_t k = 0; k < units_.size(); ++k) {
    units_[k].shardGrad = at::Tensor();
    linkPieceGrads(k);
  }
}

void FullShard::gatherAll(bool keep) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  finishBackward();
  for (size_t k = 0; k < units_.size(); ++k) {
    gather(k);
    if (keep)
      units_[k].forSave = true;
    else
      free(k);
  }
}

bool FullShard::allGathered() const {
  return std::all_of(units_.begin(), units_.end(), [](const Unit& u) { return u.full.defined() && !u.gather; });
}

void FullShard::releaseAll() {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  for (size_t k = 0; k < units_.size(); ++k)
    if (units_[k].full.defined()) free(k);
}

models::NamedTensors FullShard::pieces() {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  return pieceTensors_;
}

int64_t FullShard::parameterBytes() const {
  int64_t bytes = 0;
  for (const Unit& u : units_) {
    bytes += static_cast<int64_t>(u.shard.nbytes());
    if (u.full.defined()) bytes += static_cast<int64_t>(u.full.nbytes());
  }
  return bytes;
}

int64_t FullShard::gradientBytes() const {
  int64_t bytes = 0;
  for (const Unit& u : units_)
    if (u.shardGrad.defined()) bytes += static_cast<int64_t>(u.shardGrad.nbytes());
  for (const auto& [name, p] : parameters_)
    if (p.grad().defined()) bytes += static_cast<int64_t>(p.grad().nbytes());
  return bytes;
}

void FullShard::gatherFlat(const std::vector<at::Tensor>& shards,
                           const std::function<void(size_t, const at::Tensor&)>& take) {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  for (size_t k = 0; k < units_.size(); ++k) {
    const Unit& u = units_[k];
    at::Tensor full = at::empty({u.shardNumel * group_->worldSize()}, shards[k].options());
    group_->wait(group_->allGatherIntoAsync(full, shards[k].contiguous()), "the all-gather of the optimizer state");
    for (size_t j = 0; j < u.params.size(); ++j)
      take(u.params[j], full.narrow(0, u.offsets[j], c10::multiply_integers(shapes_[u.params[j]])));
  }
}

}  // namespace alignkit::distributed
