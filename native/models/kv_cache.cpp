#include "models/kv_cache.h"

#include <algorithm>
#include <string>

#include "common/error.h"

namespace alignkit::models {

KvCache::KvCache(const ModelConfig& config, int64_t batch, int64_t capacity, int64_t limit, at::ScalarType dtype,
                 at::Device device)
    : limit_(limit) {
  const auto opts = at::TensorOptions().dtype(dtype).device(device);
  for (int64_t i = 0; i < config.numLayers; ++i) {
    keys_.push_back(at::empty({batch, config.numKvHeads, capacity, config.headDim}, opts));
    values_.push_back(at::empty({batch, config.numKvHeads, capacity, config.headDim}, opts));
  }
  mask_ = at::zeros({batch, capacity}, opts.dtype(at::kLong));
}

void KvCache::grow(int64_t capacity) {
  auto larger = [&](at::Tensor& buffer, int64_t dim) {
    std::vector<int64_t> shape = buffer.sizes().vec();
    shape[dim] = capacity;
    at::Tensor out = at::empty(shape, buffer.options());
    out.narrow(dim, 0, length_).copy_(buffer.narrow(dim, 0, length_));
    buffer = out;
  };
  for (at::Tensor& k : keys_) larger(k, 2);
  for (at::Tensor& v : values_) larger(v, 2);
  larger(mask_, 1);
}

at::Tensor KvCache::reserve(const at::Tensor& attentionMask) {
  const int64_t T = attentionMask.size(1);
  if (attentionMask.size(0) != mask_.size(0) || length_ + T > limit_)
    throw invalidArgument("KvCache: " + std::to_string(T) + " more positions of " +
                          std::to_string(attentionMask.size(0)) + " rows do not fit a cache of " +
                          std::to_string(mask_.size(0)) + " rows holding " + std::to_string(length_) + " of at most " +
                          std::to_string(limit_) + " positions");
  if (length_ + T > capacity()) grow(std::min(std::max(length_ + T, 2 * capacity()), limit_));
  mask_.narrow(1, length_, T).copy_(attentionMask);
  pending_ = T;
  return mask_.narrow(1, 0, length_ + T);
}

std::pair<at::Tensor, at::Tensor> KvCache::write(size_t layer, const at::Tensor& keys, const at::Tensor& values) {
  const int64_t end = length_ + pending_;
  keys_[layer].narrow(2, length_, pending_).copy_(keys);
  values_[layer].narrow(2, length_, pending_).copy_(values);
  return {keys_[layer].narrow(2, 0, end), values_[layer].narrow(2, 0, end)};
}

}  // namespace alignkit::models
