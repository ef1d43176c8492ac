// ZeRO stage 1 (Rajbhandari et al., "ZeRO: Memory Optimizations Toward Training Trillion Parameter Models",
// https://arxiv.org/abs/1910.02054), as torch.distributed.optim.ZeroRedundancyOptimizer runs AdamW: each rank keeps
// the AdamW state of whole parameters assigned to it and updates only those, then every owner broadcasts its
// updated parameters, so optimizer memory per rank falls to about 1/world size and the weights stay what the
// unsharded AdamW gives (gradients are already averaged and complete on every rank, as DDP leaves them).
// Stage 2 (gradientsSharded) is the same optimizer over gradients that GradientReducer::reduceToOwners left only on
// their owners: the update and broadcasts are unchanged, and clipping measures the global norm over the shards.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "distributed/process_group.h"
#include "models/causal_lm.h"
#include "train/adamw.h"

namespace alignkit::distributed {

// The owner rank of each parameter, as ZeroRedundancyOptimizer._partition_parameters assigns them over the
// Trainer's two groups (decay, then no decay): within a group largest numel first (a stable sort), each to the
// rank with the fewest elements so far (the lowest such rank), the counts carried across groups.
std::vector<int> partitionParameters(const models::NamedTensors& parameters, int worldSize);

class ShardedAdamW {
 public:
  // Every rank must construct it over the same parameters (names, shapes, dtypes) and bucket size.
  // Broadcasts go out coalesced in buckets of at most `bucketBytes` (one larger tensor goes alone), so the flat
  // copy a broadcast makes stays small next to the parameters and state it moves.
  ShardedAdamW(std::shared_ptr<ProcessGroup> group, const models::NamedTensors& parameters, train::AdamWOptions options,
               int64_t bucketBytes = 25LL << 20, bool gradientsSharded = false);

  // The owner rank of each parameter (partitionParameters), for the reducer of stage 2.
  const std::vector<int>& owners() const { return owner_; }

  // clip_grad_norm_ over every rank's gradients: with stage 1 each rank holds them all and clips alone; with
  // stage 2 the norms of each rank's owned gradients are all-reduced into the global norm (the square root of the
  // summed squares) and the owners scale theirs. Returns the total norm (a collective with stage 2).
  double clipGradNorm(double maxNorm);

  // A collective: the owned updates, then each rank broadcasts its parameters.
  void step(double lr);

  // A collective: every rank's state broadcast by its owner, so the result is the full state() the unsharded
  // AdamW gives (same names, order, shapes, dtypes; other ranks' parts on the host). A rank with keep = false
  // drops each part as it arrives and returns nothing.
  models::NamedTensors gatherState(bool keep);

  // This rank's part of a full state (any world size wrote it; all of it is checked).
  void loadState(const models::NamedTensors& state, const std::string& where) { adamw_.loadState(state, where); }

  int64_t stateBytes() const { return adamw_.stateBytes(); }
  const std::vector<std::string>& decayParameterNames() const { return adamw_.decayParameterNames(); }

 private:
  std::shared_ptr<ProcessGroup> group_;
  int64_t bucketBytes_;
  bool gradientsSharded_;
  models::NamedTensors parameters_;
  std::vector<int> owner_;
  train::AdamW adamw_;
};

}  // namespace alignkit::distributed
