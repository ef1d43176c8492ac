// AdamW over ZeRO stage 3's shards (distributed/full_shard.h), as FSDP's optimizer runs on its sharded parameters:
// each rank updates only its slice of every unit, with the state of that slice alone, so parameters, gradients and
// optimizer state per rank are all about 1/world size. AdamW is element-wise, so the update of a slice is the
// unsharded update of those elements; the weight-decay group is each parameter's (a slice keeps its name). Clipping
// sums each parameter's squared gradient norm over the ranks. The saved state is the unsharded AdamW's (same names,
// shapes, dtypes), gathered from the slices, and loads at any world size and stage.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "distributed/full_shard.h"
#include "train/adamw.h"

namespace alignkit::distributed {

class FullShardAdamW {
 public:
  FullShardAdamW(std::shared_ptr<FullShard> shard, train::AdamWOptions options);

  // clip_grad_norm_ over every rank's gradient slices; returns the total norm. A collective.
  double clipGradNorm(double maxNorm);
  // This rank's slices updated (no communication); the units gathered before it are freed (they are stale now).
  void step(double lr);
  // A collective: the full state() the unsharded AdamW gives, on the host; a rank with keep = false returns nothing.
  models::NamedTensors gatherState(bool keep);
  // This rank's slices of a full state (any world size or stage wrote it; all of it is checked).
  void loadState(const models::NamedTensors& state, const std::string& where);

  int64_t stateBytes() const { return adamw_.stateBytes(); }
  const std::vector<std::string>& decayParameterNames() const { return decayNames_; }

 private:
  std::shared_ptr<FullShard> shard_;
  models::NamedTensors pieces_;
  train::AdamW adamw_;
  std::vector<std::string> decayNames_;
};

}  // namespace alignkit::distributed
