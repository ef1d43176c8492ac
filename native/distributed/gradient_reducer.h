// Data-parallel gradient averaging overlapped with the backward, as DistributedDataParallel's Reducer does it:
// the trainable parameters are cut into buckets in reverse order (the order backward produces their gradients;
// the first bucket small, so communication starts early), a hook after each parameter's gradient accumulation
// counts it ready, and each full bucket is flattened and all-reduced asynchronously while backward goes on.
// Buckets launch strictly in order so every rank issues the same collectives. Only a backward between prepare()
// and finish() communicates: accumulation micro-steps leave their gradients local (DDP's no_sync), and the last
// micro-step's all-reduce carries the accumulated sum.
//
// With ZeRO stage 2 (reduceToOwners) a bucket is instead reduced to the ranks that own its parameters, as DeepSpeed's
// stage 2 reduces each partition to its owner (stage_1_and_2.py, average_tensor) and FSDP's SHARD_GRAD_OP
// reduce-scatters: the bucket is laid out grouped by owner, one reduce per owner goes out, and once a parameter's
// gradient is copied into its bucket it is freed unless this rank owns it; after finish() only the owned gradients
// exist (about 1/world size of them) and the bucket buffers are gone too.
#pragma once

#include <ATen/ATen.h>
#include <torch/csrc/autograd/function.h>

#include <memory>
#include <mutex>
#include <vector>

#include "distributed/process_group.h"
#include "models/causal_lm.h"

namespace alignkit::distributed {

struct BucketOptions {
  int64_t bucketBytes = 25LL << 20;      // DDP's bucket_cap_mb = 25
  int64_t firstBucketBytes = 1LL << 20;  // DDP's first bucket: 1 MiB
};

class GradientReducer {
 public:
  GradientReducer(std::shared_ptr<ProcessGroup> group, const models::NamedTensors& parameters,
                  BucketOptions options = {});
  ~GradientReducer();
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  // ZeRO stage 2: from now on the synced backward leaves on each rank only the averaged gradients of the parameters
  // it owns (`owner`, one rank per parameter, ShardedAdamW's partition); an empty `owner` returns to all-reduce.
  void reduceToOwners(std::vector<int> owner);

  // Whether this reducer communicates over `group`.
  bool reducesOver(const ProcessGroup& group) const { return group_.get() == &group; }

  // Bytes of the flat bucket buffers held between backward passes (none with reduceToOwners).
  int64_t bufferBytes() const;

  // The next backward averages the gradients over the ranks.
  void prepare();
  // After that backward: launches the buckets still waiting (parameters without a gradient count as zeros),
  // waits for every all-reduce and writes the averages back into .grad; the group's stats count it.
  void finish();

 private:
  struct Bucket {
    std::vector<size_t> params;  // indices into params_
    std::vector<int64_t> offsets;
    int64_t numel = 0;
    at::Tensor flat;
    size_t pending = 0;
    // One all-reduce, or with owners one reduce per owner segment [offset, offset + length) of `flat`.
    std::vector<c10::intrusive_ptr<c10d::Work>> works;
    struct Segment {
      int owner;
      int64_t offset, length;
    };
    std::vector<Segment> segments;
  };

  void markReady(size_t param);
  void launch(Bucket& bucket);
  // Lays each bucket out: in bucketing order, or grouped by owner (stable) with one segment per owner.
  void layOut();
  bool owns(size_t param) const { return owner_.empty() || owner_[param] == group_->rank(); }

  std::shared_ptr<ProcessGroup> group_;
  std::vector<at::Tensor> params_;
  std::vector<size_t> bucketOf_;
  std::vector<Bucket> buckets_;
  std::vector<int> owner_;  // empty: all-reduce (stages 0 and 1)
  std::vector<std::pair<c10::intrusive_ptr<torch::autograd::Node>, uintptr_t>> hooks_;
  std::mutex mutex_;  // hooks may fire on autograd's device threads
  bool armed_ = false;
  size_t nextBucket_ = 0;
};

}  // namespace alignkit::distributed
