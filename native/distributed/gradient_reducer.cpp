#include "distributed/gradient_reducer.h"

#include <torch/csrc/autograd/utils/lambda_post_hook.h>
#include <torch/csrc/autograd/variable.h>

#include <algorithm>
#include <chrono>

#include "common/error.h"

namespace alignkit::distributed {

GradientReducer::GradientReducer(std::shared_ptr<ProcessGroup> group, const models::NamedTensors& parameters,
                                 BucketOptions options)
    : group_(std::move(group)) {
  for (const auto& [name, p] : parameters) params_.push_back(p);
  bucketOf_.resize(params_.size());
  // Reverse order, as DDP's default bucketing: gradients of the last layers arrive first.
  int64_t bytes = 0;
  for (size_t k = params_.size(); k-- > 0;) {
    const at::Tensor& p = params_[k];
    const int64_t cap = buckets_.size() <= 1 ? options.firstBucketBytes : options.bucketBytes;
    const bool fits = !buckets_.empty() && bytes + static_cast<int64_t>(p.nbytes()) <= cap &&
                      params_[buckets_.back().params.front()].scalar_type() == p.scalar_type() &&
                      params_[buckets_.back().params.front()].device() == p.device();
    if (!fits) {
      buckets_.emplace_back();
      bytes = 0;
    }
    buckets_.back().params.push_back(k);
    bucketOf_[k] = buckets_.size() - 1;
    bytes += static_cast<int64_t>(p.nbytes());
  }
  layOut();
  // A hook after each parameter's gradient accumulation. The accumulator is held here: the parameter keeps only a
  // weak reference, and a new one would not carry the hook.
  for (size_t k = 0; k < params_.size(); ++k) {
    auto accumulator = torch::autograd::impl::grad_accumulator(params_[k]);
    const uintptr_t key = accumulator->add_post_hook(std::make_unique<torch::autograd::utils::LambdaPostHook>(
        [this, k](const torch::autograd::variable_list& outputs, const torch::autograd::variable_list&) {
          markReady(k);
          return outputs;
        }));
    hooks_.emplace_back(std::move(accumulator), key);
  }
}

GradientReducer::~GradientReducer() {
  for (auto& [accumulator, key] : hooks_) accumulator->del_post_hook(key);
}

void GradientReducer::layOut() {
  for (Bucket& bucket : buckets_) {
    if (!owner_.empty())
      std::stable_sort(bucket.params.begin(), bucket.params.end(),
                       [this](size_t a, size_t b) { return owner_[a] < owner_[b]; });
    bucket.offsets.clear();
    bucket.segments.clear();
    bucket.numel = 0;
    for (size_t k : bucket.params) {
      const int owner = owner_.empty() ? -1 : owner_[k];
      if (bucket.segments.empty() || bucket.segments.back().owner != owner)
        bucket.segments.push_back({owner, bucket.numel, 0});
      bucket.offsets.push_back(bucket.numel);
      bucket.numel += params_[k].numel();
      bucket.segments.back().length += params_[k].numel();
    }
    // All-reduce keeps its buffers, as DDP does; reduce-to-owners allocates them per backward, so that between
    // steps only the owned gradients remain.
    const at::Tensor& first = params_[bucket.params.front()];
    bucket.flat = owner_.empty() ? at::zeros({bucket.numel}, first.options().requires_grad(false)) : at::Tensor();
  }
}

void GradientReducer::reduceToOwners(std::vector<int> owner) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!owner.empty() && owner.size() != params_.size())
    throw invalidArgument("reduceToOwners: one owner per trainable parameter expected");
  owner_ = std::move(owner);
  layOut();
}

int64_t GradientReducer::bufferBytes() const {
  int64_t bytes = 0;
  for (const Bucket& bucket : buckets_)
    if (bucket.flat.defined()) bytes += static_cast<int64_t>(bucket.flat.nbytes());
  return bytes;
}

void GradientReducer::prepare() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (Bucket& bucket : buckets_) {
    bucket.pending = bucket.params.size();
    bucket.works.clear();
  }
  nextBucket_ = 0;
  armed_ = true;
}

void GradientReducer::markReady(size_t param) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!armed_) return;
  Bucket& bucket = buckets_[bucketOf_[param]];
  if (bucket.pending > 0) --bucket.pending;
  while (nextBucket_ < buckets_.size() && buckets_[nextBucket_].pending == 0) launch(buckets_[nextBucket_++]);
}

void GradientReducer::launch(Bucket& bucket) {
  at::NoGradGuard noGrad;
  if (!owner_.empty()) bucket.flat = at::empty({bucket.numel}, params_[bucket.params.front()].options());
  for (size_t i = 0; i < bucket.params.size(); ++i) {
    at::Tensor p = params_[bucket.params[i]];
    at::Tensor slot = bucket.flat.narrow(0, bucket.offsets[i], p.numel());
    if (p.grad().defined())
      slot.copy_(p.grad().reshape(-1));
    else
      slot.zero_();
    // ZeRO-2: a gradient another rank owns is in the bucket now; free it (DeepSpeed sets param.grad = None here).
    if (!owns(bucket.params[i])) p.mutable_grad() = at::Tensor();
  }
  // DDP's default comm hook: divide by the world size, then sum.
  bucket.flat.div_(group_->worldSize());
  if (owner_.empty()) {
    bucket.works.push_back(group_->allReduceSumAsync(bucket.flat));
    return;
  }
  for (const Bucket::Segment& segment : bucket.segments)
    bucket.works.push_back(
        group_->reduceSumAsync(bucket.flat.narrow(0, segment.offset, segment.length), segment.owner));
}

void GradientReducer::finish() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!armed_) return;
    armed_ = false;
    while (nextBucket_ < buckets_.size()) launch(buckets_[nextBucket_++]);
  }
  at::NoGradGuard noGrad;
  double waitSeconds = 0;
  int64_t collectives = 0;
  for (Bucket& bucket : buckets_) {
    const auto start = std::chrono::steady_clock::now();
    for (const auto& work : bucket.works)
      group_->wait(work, owner_.empty() ? "gradient all-reduce" : "gradient reduce to the owners");
    waitSeconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    collectives += static_cast<int64_t>(bucket.works.size());
    bucket.works.clear();
    for (size_t i = 0; i < bucket.params.size(); ++i) {
      if (!owns(bucket.params[i])) continue;
      at::Tensor p = params_[bucket.params[i]];
      at::Tensor average = bucket.flat.narrow(0, bucket.offsets[i], p.numel()).view(p.sizes());
      if (p.grad().defined())
        p.mutable_grad().copy_(average);
      else
        p.mutable_grad() = average.clone();
    }
    if (!owner_.empty()) bucket.flat = at::Tensor();
  }
  group_->recordGradientSync(collectives, waitSeconds);
}

}  // namespace alignkit::distributed
