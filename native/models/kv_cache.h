// The keys and values a batch being generated has computed so far, one pair per decoder layer, so each new token
// runs through the model alone (transformers' DynamicCache). Written in place into buffers that double when full,
// rather than concatenated per step.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "models/config.h"

namespace alignkit::models {

class KvCache {
 public:
  // Room for `capacity` positions of `batch` rows to start with, and never more than `limit`, in the model's
  // dtype and on its device.
  KvCache(const ModelConfig& config, int64_t batch, int64_t capacity, int64_t limit, at::ScalarType dtype,
          at::Device device);

  int64_t capacity() const { return mask_.size(1); }

  // Marks the next `attentionMask.size(1)` positions (B, T) as about to be written (growing the buffers if they
  // are full): 1 for real tokens, 0 for padding. Returns the mask of every position so far, those included:
  // (B, length + T).
  at::Tensor reserve(const at::Tensor& attentionMask);

  // Writes layer `layer`'s keys and values (B, kvHeads, T, headDim) of the reserved positions and returns those of
  // every position so far, (B, kvHeads, length + T, headDim) views of the cache.
  std::pair<at::Tensor, at::Tensor> write(size_t layer, const at::Tensor& keys, const at::Tensor& values);

  // The reserved positions are written in every layer: they join the cache.
  void commit() {
    length_ += pending_;
    pending_ = 0;
  }

 private:
  // Copies what is written into buffers of `capacity` positions.
  void grow(int64_t capacity);

  std::vector<at::Tensor> keys_, values_;  // per layer (B, kvHeads, capacity, headDim)
  at::Tensor mask_;                        // (B, capacity) int64; only the first length + pending are read
  int64_t limit_, length_ = 0, pending_ = 0;
};

}  // namespace alignkit::models
