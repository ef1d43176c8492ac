#include "models/attention_mask.h"

namespace alignkit::models {
namespace {

// transformers' find_packed_sequence_indices: (B, T) sequence index of each token, or undefined when every row is
// one sequence.
at::Tensor packedSequenceIndices(const at::Tensor& positionIds) {
  const at::Tensor first = positionIds.narrow(1, 0, 1) - 1;
  const at::Tensor index = at::diff(positionIds, 1, -1, first).ne(1).cumsum(-1);
  if (index.select(1, index.size(1) - 1).eq(0).all().item<bool>()) return {};
  return index;
}

}  // namespace

at::Tensor buildAttentionMask(const at::Tensor& attentionMask, const at::Tensor& positionIds, int64_t batch,
                              int64_t seqLen, std::optional<int64_t> slidingWindow, const at::Device& device) {
  const bool padded = attentionMask.defined() && !attentionMask.all().item<bool>();
  const at::Tensor packed = !attentionMask.defined() && positionIds.defined()
                                ? packedSequenceIndices(positionIds.to(device, at::kLong))
                                : at::Tensor();
  if (!padded && !packed.defined() && !slidingWindow) return {};

  const auto opts = at::TensorOptions().dtype(at::kLong).device(device);
  const at::Tensor query = at::arange(seqLen, opts).view({seqLen, 1});
  const at::Tensor key = at::arange(seqLen, opts).view({1, seqLen});
  at::Tensor allowed = key <= query;  // (T, T)
  if (slidingWindow) allowed = allowed.logical_and(query - key < *slidingWindow);
  at::Tensor mask = allowed.view({1, 1, seqLen, seqLen}).expand({batch, 1, seqLen, seqLen});
  if (padded) mask = mask.logical_and(attentionMask.to(device).to(at::kBool).view({batch, 1, 1, seqLen}));
  if (packed.defined())
    mask = mask.logical_and(packed.view({batch, 1, seqLen, 1}) == packed.view({batch, 1, 1, seqLen}));
  return mask;
}

at::Tensor buildCachedAttentionMask(const at::Tensor& keyMask, int64_t queries, std::optional<int64_t> slidingWindow) {
  const int64_t batch = keyMask.size(0), keys = keyMask.size(1);
  const auto opts = at::TensorOptions().dtype(at::kLong).device(keyMask.device());
  const at::Tensor query = at::arange(keys - queries, keys, opts).view({queries, 1});
  const at::Tensor key = at::arange(keys, opts).view({1, keys});
  at::Tensor allowed = key <= query;  // (queries, keys)
  if (slidingWindow) allowed = allowed.logical_and(query - key < *slidingWindow);
  const at::Tensor mask =
      allowed.view({1, 1, queries, keys}).logical_and(keyMask.to(at::kBool).view({batch, 1, 1, keys}));
  return mask.logical_or((query == key).view({1, 1, queries, keys}));
}

}  // namespace alignkit::models
