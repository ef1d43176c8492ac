#include "distributed/gradient_reducer.h"

#include <torch/csrc/autograd/utils/lambda_post_hook.h>
#include <torch/csrc/autograd/variable.h>

#include <chrono>

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
    Bucket& bucket = buckets_.back();
    bucket.offsets.push_back(bucket.params.empty() ? 0 : bucket.offsets.back() + params_[bucket.params.back()].numel());
    bucket.params.push_back(k);
    bucketOf_[k] = buckets_.size() - 1;
    bytes += static_cast<int64_t>(p.nbytes());
  }
  for (Bucket& bucket : buckets_) {
    const at::Tensor& last = params_[bucket.params.back()];
    bucket.flat = at::zeros({bucket.offsets.back() + last.numel()}, last.options().requires_grad(false));
  }
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

void GradientReducer::prepare() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (Bucket& bucket : buckets_) {
    bucket.pending = bucket.params.size();
    bucket.work.reset();
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
  for (size_t i = 0; i < bucket.params.size(); ++i) {
    const at::Tensor& p = params_[bucket.params[i]];
    at::Tensor slot = bucket.flat.narrow(0, bucket.offsets[i], p.numel());
    if (p.grad().defined())
      slot.copy_(p.grad().reshape(-1));
    else
      slot.zero_();
  }
  // DDP's default comm hook: divide by the world size, then sum.
  bucket.flat.div_(group_->worldSize());
  bucket.work = group_->allReduceSumAsync(bucket.flat);
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
  for (Bucket& bucket : buckets_) {
    const auto start = std::chrono::steady_clock::now();
    group_->wait(bucket.work, "gradient all-reduce");
    waitSeconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    bucket.work.reset();
    for (size_t i = 0; i < bucket.params.size(); ++i) {
      at::Tensor p = params_[bucket.params[i]];
      at::Tensor average = bucket.flat.narrow(0, bucket.offsets[i], p.numel()).view(p.sizes());
      if (p.grad().defined())
        p.mutable_grad().copy_(average);
      else
        p.mutable_grad() = average.clone();
    }
  }
  group_->recordGradientSync(static_cast<int64_t>(buckets_.size()), waitSeconds);
}

}  // namespace alignkit::distributed
