#include "models/attention_mask.h"

namespace alignkit::models {

at::Tensor buildAttentionMask(const at::Tensor& attentionMask, int64_t batch, int64_t seqLen,
                              std::optional<int64_t> slidingWindow, const at::Device& device) {
  const bool padded = attentionMask.defined() && !attentionMask.all().item<bool>();
  if (!padded && !slidingWindow) return {};

  const auto opts = at::TensorOptions().dtype(at::kLong).device(device);
  const at::Tensor query = at::arange(seqLen, opts).view({seqLen, 1});
  const at::Tensor key = at::arange(seqLen, opts).view({1, seqLen});
  at::Tensor allowed = key <= query;                                        // (T, T)
  if (slidingWindow) allowed = allowed.logical_and(query - key < *slidingWindow);
  at::Tensor mask = allowed.view({1, 1, seqLen, seqLen}).expand({batch, 1, seqLen, seqLen});
  if (padded) mask = mask.logical_and(attentionMask.to(device).to(at::kBool).view({batch, 1, 1, seqLen}));
  return mask.logical_or((query == key).view({1, 1, seqLen, seqLen}));
}

}  // namespace alignkit::models
