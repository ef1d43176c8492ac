// One data-parallel worker's membership of a c10d process group, as torch.distributed.init_process_group makes it
// under torchrun: rendezvous through a c10d::TCPStore that rank 0 hosts at MASTER_ADDR:MASTER_PORT, then
// ProcessGroupGloo on CPU or ProcessGroupNCCL on CUDA (one GPU per local rank). The collectives are the few that
// data-parallel training needs; every rank must call them in the same order. A failure (a peer that died, a
// collective past the timeout) throws an alignkit::Error ERR_DISTRIBUTED naming this rank, the operation and, when
// it can tell, the rank at fault: every rank beats a heartbeat counter in the store each second, and a failing rank
// looks for the counters that stopped (a rank that exited, crashed or hangs), or finds the store itself gone (rank 0).
#pragma once

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>
#include <torch/csrc/distributed/c10d/Work.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace alignkit::distributed {

// What averaging gradients has cost this rank so far (GradientReducer reports each synced backward).
struct GradientSyncStats {
  int64_t syncs = 0;       // backward passes whose gradients were averaged
  int64_t allReduces = 0;  // bucket all-reduces they issued (with ZeRO-2, reduces to the owners)
  double waitSeconds = 0;  // time spent waiting for those all-reduces after the backward (what overlap did not hide)
};

struct GroupOptions {
  int rank = 0;
  int worldSize = 1;
  std::string masterAddr = "127.0.0.1";
  int masterPort = 29500;
  // Rendezvous, and each collective (TrainingArguments.ddp_timeout).
  std::chrono::milliseconds timeout{1800 * 1000};
  // NCCL on cuda:localRank instead of Gloo on CPU.
  bool cuda = false;
  int localRank = 0;
};

class ProcessGroup {
 public:
  explicit ProcessGroup(const GroupOptions& options);
  ~ProcessGroup();

  // Leaves the job after every rank's last collective. Rank 0 hosts the store, so after a finished run it waits
  // (up to a minute) until the others have left before its store goes away; after a failure no rank waits.
  void leave(bool finished);

  int rank() const { return options_.rank; }
  int worldSize() const { return options_.worldSize; }
  // Where collective buffers live: cuda:localRank with NCCL, else CPU.
  at::Device device() const;

  // `tensors` (the same shapes on every rank) take root's values.
  void broadcast(std::vector<at::Tensor> tensors, int root);
  // Sums `tensor` over the ranks in place; the work finishes it.
  c10::intrusive_ptr<c10d::Work> allReduceSumAsync(at::Tensor tensor);
  void allReduceSum(at::Tensor tensor);
  // Sums `tensor` over the ranks into root's copy (the others' copies are left undefined); the work finishes it.
  c10::intrusive_ptr<c10d::Work> reduceSumAsync(at::Tensor tensor, int root);
  // Every rank's `tensor` (the same shape on each), stacked in rank order.
  at::Tensor allGather(const at::Tensor& tensor);
  // Every rank's `input` (numel n, the same on each) into `output` (numel n · world size, rank order), in place on
  // the group's device; the work finishes it (FSDP's all-gather of a unit's flat shards).
  c10::intrusive_ptr<c10d::Work> allGatherIntoAsync(at::Tensor output, at::Tensor input);
  // The sum over the ranks of rank r's slice [r·n, (r+1)·n) of `input` (numel n · world size) into rank r's
  // `output` (numel n); the work finishes it (FSDP's reduce-scatter of a unit's flat gradients).
  c10::intrusive_ptr<c10d::Work> reduceScatterSumAsync(at::Tensor output, at::Tensor input);
  // Every rank's `value`, in rank order, exchanged through the store (small strings: configs, fingerprints).
  std::vector<std::string> allGatherStrings(const std::string& value);

  // Waits for `work`, turning a c10d failure into an error naming this rank and `what`.
  void wait(const c10::intrusive_ptr<c10d::Work>& work, const std::string& what) const;

  void recordGradientSync(int64_t allReduces, double waitSeconds);
  GradientSyncStats gradientSyncStats() const;

 private:
  [[noreturn]] void fail(const std::string& what, const std::string& cause) const;
  // The work `launch` starts; a c10d failure to start it is fail(what).
  template <typename Launch>
  c10::intrusive_ptr<c10d::Work> start(const std::string& what, Launch&& launch) const {
    try {
      return launch();
    } catch (const c10::Error& e) {
      fail(what, e.what_without_backtrace());
    }
  }
  void beatHeartbeat();
  // "rank 1 stopped responding ..." for the ranks whose heartbeat stopped, or "" when every rank beats.
  std::string silentRanks() const;

  GroupOptions options_;
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<c10d::Backend> backend_;
  int64_t exchanges_ = 0;
  // The heartbeat has its own store client, so that a long wait on the main one never delays a beat.
  c10::intrusive_ptr<c10d::Store> heartbeatStore_;
  std::thread heartbeat_;
  std::mutex heartbeatMutex_;
  std::condition_variable heartbeatStop_;
  bool stopping_ = false;
  mutable std::mutex statsMutex_;
  GradientSyncStats stats_;
};

}  // namespace alignkit::distributed
