// Which keys each query may attend to: causal, minus padded keys, optionally within a sliding window, and within
// one sequence of a packed row.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <optional>

namespace alignkit::models {

// Returns a boolean mask (B, 1, T, T), true = attend, or an undefined tensor when plain causal attention is
// exact (no padding, no packing, no window) so attention can take its fastest path.
// attentionMask is (B, T), 1 for real tokens, 0 for padding (either side), or undefined.
// positionIds (B, T) or undefined: without an attentionMask, a row whose positions restart (a padding-free or packed
// batch) holds several sequences and no token attends across them, as transformers' find_packed_sequence_indices
// reads position_ids (a new sequence wherever a position is not the previous one + 1).
// The mask is transformers' own: a query before a left-padded row's first token sees no key at all (CausalLM marks
// those rows: SDPA gives transformers 0 for them, eager attention a uniform average).
at::Tensor buildAttentionMask(const at::Tensor& attentionMask, const at::Tensor& positionIds, int64_t batch,
                              int64_t seqLen, std::optional<int64_t> slidingWindow, const at::Device& device);

// For generation with a KV cache: the mask of the last `queries` of S cached positions over all S, (B, 1, queries,
// S) boolean, from keyMask (B, S), 1 on real tokens. Causal and windowed over cache indices, as transformers' masks
// over cache_position; padded keys hidden; every query sees itself, so a padded one stays finite (its output
// feeds only padded keys, which no real query reads).
at::Tensor buildCachedAttentionMask(const at::Tensor& keyMask, int64_t queries, std::optional<int64_t> slidingWindow);

}  // namespace alignkit::models
