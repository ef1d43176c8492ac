// ZeRO stage 3 / FSDP FULL_SHARD (Rajbhandari et al., https://arxiv.org/abs/1910.02054; torch's
// fully_shard): the trainable parameters are cut into units, each decoder layer one and the rest (the embedding,
// the final norm, lm_head) the root unit, and each unit's parameters, flattened in state-dict order and padded to a
// multiple of the world size, are split into equal contiguous shards, rank r keeping slice r. Between uses every
// parameter tensor is empty: only the shard is held.
//
// Forward: before a unit runs its shards are all-gathered and the parameters pointed into the gathered buffer;
// after a decoder layer ran they are freed again. Every decoder layer runs through the per-layer recompute
// (models/layer_checkpoint.h), so autograd keeps no view of the gathered weights; a hook on the layer's output
// gathers them again before its backward recomputes it. Once a unit's gradients are accumulated (an AccumulateGrad
// post-hook per parameter), its flat gradient is averaged and reduce-scattered, each rank adding its slice to its
// shard gradient, and the full gradients and parameters are freed. The root unit is gathered from the forward's
// start until its backward ends. The next unit's all-gather is prefetched (asynchronous, waited for before use):
// layer i + 1 while layer i runs forward, layer i − 1 while layer i recomputes in backward.
//
// The optimizer (full_shard_adamw.h) updates the shards, through `pieces()`: per parameter the part of it this
// rank's shard holds, a view into the shard whose .grad is the matching view of the shard gradient.
#pragma once

#include <ATen/ATen.h>
#include <torch/csrc/autograd/function.h>

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "distributed/process_group.h"
#include "models/causal_lm.h"
#include "models/parameter_units.h"

namespace alignkit::distributed {

class FullShard : public models::ParameterUnits, public std::enable_shared_from_this<FullShard> {
 public:
  // Where a parameter's elements [paramOffset, paramOffset + length) sit in this rank's shard of its unit.
  struct Piece {
    size_t param;  // index into parameters
    size_t unit;
    int64_t paramOffset, shardOffset, length;
  };

  // `parameters` (whole, the same on every rank: attach's broadcast made them so) are sharded now: each keeps only
  // this rank's slice. Decoder layer k's unit is the parameters named model.layers.<k>.*; the others form the root.
  static std::shared_ptr<FullShard> create(std::shared_ptr<ProcessGroup> group, const models::NamedTensors& parameters,
                                           int64_t numLayers);
  ~FullShard() override;
  FullShard(const FullShard&) = delete;
  FullShard& operator=(const FullShard&) = delete;

  void beginForward() override;
  void beforeLayer(size_t layer) override;
  void afterLayer(size_t layer, const at::Tensor& output) override;

  // After a backward: waits for the last reduce-scatter, reduces a unit whose gradients came only in part (the
  // missing ones count as zeros) and frees what backward gathered. Idempotent.
  void finishBackward();
  // Drops the shard gradients (model.zero_grad()).
  void zeroGrad();
  // A collective: every unit gathered; with keep the parameters stay whole (a save of the HF folder reads them)
  // until their next use, which gathers them anew as the other ranks do; else each unit is freed once gathered.
  void gatherAll(bool keep);
  bool allGathered() const;
  // Frees every gathered unit (after an update the gathered copies are stale).
  void releaseAll();

  const models::NamedTensors& parameters() const { return parameters_; }
  // A parameter's unsharded shape (the tensor itself is empty between uses).
  const std::vector<int64_t>& parameterShape(size_t param) const { return shapes_[param]; }
  // This rank's pieces, named after their parameters, in parameter order, each .grad the matching view of the shard
  // gradient (undefined before a backward).
  const std::vector<Piece>& pieceLayout() const { return pieces_; }
  models::NamedTensors pieces();
  int64_t shardNumel(size_t unit) const { return units_[unit].shardNumel; }
  size_t numUnits() const { return units_.size(); }
  ProcessGroup& group() const { return *group_; }

  // Bytes held now: the shards and the gathered units; the shard gradients.
  int64_t parameterBytes() const;
  int64_t gradientBytes() const;
  // The most parameter bytes held at once so far (shards plus the units whole together): the forward's and
  // backward's high-water mark.
  int64_t peakParameterBytes() const { return peakParameterBytes_; }

  // `flat` (each unit's shard-sized slice of this rank, in unit order) all-gathered, one unit at a time; for each
  // parameter `take(index, whole)` with the parameter's elements (flat, its numel). A collective.
  void gatherFlat(const std::vector<at::Tensor>& shards, const std::function<void(size_t, const at::Tensor&)>& take);

 private:
  struct Unit {
    std::vector<size_t> params;
    std::vector<int64_t> offsets;  // each parameter's start in the unit's flat vector
    int64_t numel = 0, shardNumel = 0;
    at::Tensor shard, shardGrad, full;
    c10::intrusive_ptr<c10d::Work> gather;  // an all-gather in flight into `full`
    size_t ready = 0;                       // parameters whose gradient this backward accumulated
    bool inBackward = false;                // gathered for a backward that has not reduced it yet
    bool forSave = false;                   // kept whole by gatherAll: gathered anew at its next use, as on the
                                            // ranks that dropped it, so every rank issues the same collectives
  };
  struct PendingReduce {
    size_t unit;
    at::Tensor input, output;
    c10::intrusive_ptr<c10d::Work> work;
  };

  FullShard(std::shared_ptr<ProcessGroup> group, const models::NamedTensors& parameters, int64_t numLayers);
  void installHooks();
  // Starts the unit's all-gather unless it is whole or on its way.
  void prefetch(size_t unit);
  // The unit's parameters whole (waits for its all-gather).
  void gather(size_t unit);
  void free(size_t unit);
  void gradientReady(size_t param);
  void reduce(size_t unit);
  void finishReduce();
  // Points each piece's .grad at its unit's shard gradient (or drops it).
  void linkPieceGrads(size_t unit);
  // Before decoder layer `layer`'s backward: its parameters whole, the previous layer's prefetched.
  void gatherForBackward(size_t layer);
  size_t rootUnit() const { return units_.size() - 1; }

  std::shared_ptr<ProcessGroup> group_;
  models::NamedTensors parameters_;
  std::vector<std::vector<int64_t>> shapes_;
  std::vector<size_t> unitOf_;
  std::vector<Unit> units_;
  std::vector<Piece> pieces_;
  models::NamedTensors pieceTensors_;  // views into the shards, one per piece
  std::optional<PendingReduce> pending_;
  std::vector<std::pair<c10::intrusive_ptr<torch::autograd::Node>, uintptr_t>> hooks_;
  int64_t peakParameterBytes_ = 0;
  std::recursive_mutex mutex_;  // hooks may fire on autograd's device threads
};

}  // namespace alignkit::distributed
