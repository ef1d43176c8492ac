#include "distributed/process_group.h"

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#if ALIGNKIT_WITH_CUDA
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <cstdlib>

#include "common/error.h"

namespace alignkit::distributed {
namespace {

// What broadcast flattens into one message at most (DDP's _broadcast_coalesced uses 250 MiB buckets).
constexpr int64_t kBroadcastChunkBytes = 256LL << 20;
constexpr auto kHeartbeatPeriod = std::chrono::seconds(1);
// A rank whose counter did not move over this long is silent (2.5 beats: scheduling jitter never looks like death).
constexpr auto kSilence = std::chrono::milliseconds(2500);

std::string heartbeatKey(int rank) { return "alignkit/heartbeat/" + std::to_string(rank); }

bool isLoopback(const std::string& addr) { return addr == "localhost" || addr.rfind("127.", 0) == 0 || addr == "::1"; }

// Gloo's transport device, chosen as torch.distributed does: GLOO_SOCKET_IFNAME when set, the loopback address
// for a job on one machine, else this machine's hostname.
std::shared_ptr<::gloo::transport::Device> glooDevice(const std::string& masterAddr) {
  if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"))
    return c10d::ProcessGroupGloo::createDeviceForInterface(ifname);
  if (isLoopback(masterAddr)) return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

std::string lowercase(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

ProcessGroup::ProcessGroup(const GroupOptions& options) : options_(options) {
  const std::string master = options.masterAddr + ":" + std::to_string(options.masterPort);
  c10d::TCPStoreOptions storeOptions;
  storeOptions.port = static_cast<std::uint16_t>(options.masterPort);
  storeOptions.isServer = options.rank == 0;
  storeOptions.numWorkers = options.worldSize;
  storeOptions.waitWorkers = true;
  storeOptions.timeout = options.timeout;
  try {
    store_ = c10::make_intrusive<c10d::TCPStore>(options.masterAddr, storeOptions);
  } catch (const c10::Error& e) {
    const std::string why = e.what_without_backtrace();
    const std::string lower = lowercase(why);
    if (options.rank == 0 && lower.find("address already in use") != std::string::npos) {
      throw Error("ERR_PORT_IN_USE", "rank 0: cannot host the rendezvous at " + master + ": the port is in use " +
                                         "(choose another with --master_port / MASTER_PORT)");
    }
    throw Error("ERR_DISTRIBUTED",
                "rank " + std::to_string(options.rank) + ": rendezvous at " + master + " failed within " +
                    std::to_string(options.timeout.count() / 1000) + " s (" +
                    (options.rank == 0 ? "not every rank joined"
                                       : "is rank 0 running and " + master + " reachable from here?") +
                    "): " + why);
  }
  try {
#if ALIGNKIT_WITH_CUDA
    if (options.cuda) {
      auto ncclOptions = c10d::ProcessGroupNCCL::Options::create();
      ncclOptions->timeout = options.timeout;
      backend_ = c10::make_intrusive<c10d::ProcessGroupNCCL>(store_, options.rank, options.worldSize, ncclOptions);
      return;
    }
#endif
    if (options.cuda)
      throw Error("ERR_DISTRIBUTED", "NCCL needs a CUDA build of alignkit's addon; this one is CPU only");
    auto glooOptions = c10d::ProcessGroupGloo::Options::create(options.timeout);
    glooOptions->devices.push_back(glooDevice(options.masterAddr));
    backend_ = c10::make_intrusive<c10d::ProcessGroupGloo>(store_, options.rank, options.worldSize, glooOptions);
  } catch (const c10::Error& e) {
    fail("connecting the process group", e.what_without_backtrace());
  }
  c10d::TCPStoreOptions clientOptions;
  clientOptions.port = storeOptions.port;
  clientOptions.waitWorkers = false;
  clientOptions.timeout = std::chrono::seconds(10);
  heartbeatStore_ = c10::make_intrusive<c10d::TCPStore>(options.masterAddr, clientOptions);
  heartbeat_ = std::thread([this] { beatHeartbeat(); });
}

ProcessGroup::~ProcessGroup() { leave(false); }

void ProcessGroup::leave(bool finished) {
  {
    std::lock_guard<std::mutex> lock(heartbeatMutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  heartbeatStop_.notify_all();
  heartbeat_.join();
  if (!finished) return;
  const std::string key = "alignkit/left";
  try {
    if (rank() != 0) {
      store_->add(key, 1);
      return;
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(1);
    while (store_->add(key, 0) < worldSize() - 1 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  } catch (const std::exception&) {
    // Leaving is best effort: the training it ends is complete.
  }
}

void ProcessGroup::beatHeartbeat() {
  std::unique_lock<std::mutex> lock(heartbeatMutex_);
  while (!heartbeatStop_.wait_for(lock, kHeartbeatPeriod, [this] { return stopping_; })) {
    try {
      heartbeatStore_->add(heartbeatKey(rank()), 1);
    } catch (const std::exception&) {
      return;  // the store (rank 0) is gone: the next collective fails and says so
    }
  }
}

std::string ProcessGroup::silentRanks() const {
  try {
    auto beats = [this] {
      std::vector<int64_t> counts;
      for (int r = 0; r < worldSize(); ++r) counts.push_back(heartbeatStore_->add(heartbeatKey(r), 0));
      return counts;
    };
    const std::vector<int64_t> before = beats();
    std::this_thread::sleep_for(kSilence);
    const std::vector<int64_t> after = beats();
    std::string silent;
    for (int r = 0; r < worldSize(); ++r) {
      if (r != rank() && after[r] == before[r]) silent += (silent.empty() ? "rank " : ", rank ") + std::to_string(r);
    }
    return silent.empty()
               ? ""
               : silent + " stopped responding (no heartbeat for " +
                     std::to_string(kSilence.count() / 1000.0).substr(0, 3) + " s: it exited, crashed or hangs)";
  } catch (const std::exception&) {
    return rank() == 0 ? "" : "rank 0, which hosts the rendezvous store, is gone (it exited or crashed)";
  }
}

at::Device ProcessGroup::device() const {
  return options_.cuda ? at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(options_.localRank))
                       : at::Device(at::kCPU);
}

void ProcessGroup::fail(const std::string& what, const std::string& cause) const {
  const std::string culprit = heartbeatStore_ ? silentRanks() : "";
  throw Error("ERR_DISTRIBUTED",
              "rank " + std::to_string(options_.rank) + " of " + std::to_string(options_.worldSize) + ": " + what +
                  " failed: " +
                  (culprit.empty() ? "another rank died, hung past ddp_timeout " +
                                         std::to_string(options_.timeout.count() / 1000) + " s, or left the job"
                                   : culprit) +
                  " (" + cause + ")");
}

void ProcessGroup::wait(const c10::intrusive_ptr<c10d::Work>& work, const std::string& what) const {
  try {
    work->wait();
  } catch (const c10::Error& e) {
    fail(what, e.what_without_backtrace());
  } catch (const std::exception& e) {
    fail(what, e.what());
  }
}

void ProcessGroup::broadcast(std::vector<at::Tensor> tensors, int root) {
  // Coalesced as DDP's _broadcast_coalesced: runs of same-dtype tensors flattened into chunks, one message each.
  size_t begin = 0;
  while (begin < tensors.size()) {
    size_t end = begin;
    int64_t bytes = 0;
    while (end < tensors.size() && tensors[end].scalar_type() == tensors[begin].scalar_type() &&
           (end == begin || bytes + tensors[end].nbytes() <= kBroadcastChunkBytes)) {
      bytes += static_cast<int64_t>(tensors[end].nbytes());
      ++end;
    }
    std::vector<at::Tensor> flat_parts;
    for (size_t i = begin; i < end; ++i) flat_parts.push_back(tensors[i].detach().reshape(-1));
    std::vector<at::Tensor> flat{at::cat(flat_parts).to(device())};
    c10d::BroadcastOptions opts;
    opts.rootRank = root;
    opts.timeout = options_.timeout;
    const std::string what = "broadcast from rank " + std::to_string(root);
    wait(start(what, [&] { return backend_->broadcast(flat, opts); }), what);
    int64_t offset = 0;
    at::NoGradGuard noGrad;
    for (size_t i = begin; i < end; ++i) {
      const int64_t n = tensors[i].numel();
      tensors[i].copy_(flat[0].narrow(0, offset, n).view(tensors[i].sizes()));
      offset += n;
    }
    begin = end;
  }
}

c10::intrusive_ptr<c10d::Work> ProcessGroup::allReduceSumAsync(at::Tensor tensor) {
  std::vector<at::Tensor> tensors{std::move(tensor)};
  c10d::AllreduceOptions opts;
  opts.reduceOp = c10d::ReduceOp::SUM;
  opts.timeout = options_.timeout;
  return start("all-reduce", [&] { return backend_->allreduce(tensors, opts); });
}

c10::intrusive_ptr<c10d::Work> ProcessGroup::reduceSumAsync(at::Tensor tensor, int root) {
  std::vector<at::Tensor> tensors{std::move(tensor)};
  c10d::ReduceOptions opts;
  opts.reduceOp = c10d::ReduceOp::SUM;
  opts.rootRank = root;
  opts.timeout = options_.timeout;
  return start("reduce to rank " + std::to_string(root), [&] { return backend_->reduce(tensors, opts); });
}

c10::intrusive_ptr<c10d::Work> ProcessGroup::allGatherIntoAsync(at::Tensor output, at::Tensor input) {
  c10d::AllgatherOptions opts;
  opts.timeout = options_.timeout;
  return start("all-gather of parameters", [&] { return backend_->_allgather_base(output, input, opts); });
}

c10::intrusive_ptr<c10d::Work> ProcessGroup::reduceScatterSumAsync(at::Tensor output, at::Tensor input) {
  c10d::ReduceScatterOptions opts;
  opts.reduceOp = c10d::ReduceOp::SUM;
  opts.timeout = options_.timeout;
  return start("reduce-scatter of gradients", [&] { return backend_->_reduce_scatter_base(output, input, opts); });
}

void ProcessGroup::allReduceSum(at::Tensor tensor) {
  at::Tensor buffer = tensor.device() == device() ? tensor : tensor.to(device());
  wait(allReduceSumAsync(buffer), "all-reduce");
  if (!buffer.is_same(tensor)) tensor.copy_(buffer);
}

at::Tensor ProcessGroup::allGather(const at::Tensor& tensor) {
  at::Tensor input = tensor.contiguous().to(device());
  std::vector<std::vector<at::Tensor>> outputs(1);
  for (int r = 0; r < worldSize(); ++r) outputs[0].push_back(at::empty_like(input));
  std::vector<at::Tensor> inputs{input};
  c10d::AllgatherOptions opts;
  opts.timeout = options_.timeout;
  wait(start("all-gather", [&] { return backend_->allgather(outputs, inputs, opts); }), "all-gather");
  return at::stack(outputs[0]).to(tensor.device());
}

std::vector<std::string> ProcessGroup::allGatherStrings(const std::string& value) {
  const std::string prefix = "alignkit/exchange/" + std::to_string(exchanges_++) + "/";
  std::vector<std::string> values;
  try {
    store_->set(prefix + std::to_string(rank()), std::vector<uint8_t>(value.begin(), value.end()));
    for (int r = 0; r < worldSize(); ++r) {
      const std::vector<uint8_t> bytes = store_->get(prefix + std::to_string(r));
      values.emplace_back(bytes.begin(), bytes.end());
    }
  } catch (const c10::Error& e) {
    fail("exchanging values through the store", e.what_without_backtrace());
  }
  return values;
}

void ProcessGroup::recordGradientSync(int64_t allReduces, double waitSeconds) {
  std::lock_guard<std::mutex> lock(statsMutex_);
  stats_.syncs += 1;
  stats_.allReduces += allReduces;
  stats_.waitSeconds += waitSeconds;
}

GradientSyncStats ProcessGroup::gradientSyncStats() const {
  std::lock_guard<std::mutex> lock(statsMutex_);
  return stats_;
}

}  // namespace alignkit::distributed
