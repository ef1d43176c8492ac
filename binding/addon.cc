// Module entry: registers NativeModel, NativeOptimizer, NativeGeneration and the runtime functions.
#include <ATen/Context.h>
#include <c10/util/Exception.h>
#include <napi.h>

#include <algorithm>

#include "common/error.h"
#include "generation.h"
#include "listwise_loss.h"
#include "logprobs_probe.h"
#include "loss_options.h"
#include "model.h"
#include "optimizer.h"
#include "process_group.h"
#include "promise_worker.h"
#include "runtime/cpu_caching_allocator.h"
#include "runtime/cuda_memory.h"
#include "runtime/info.h"
#include "runtime/randperm.h"
#include "runtime/rng_state.h"
#include "safetensors.h"

namespace alignkit::binding {
namespace {

Napi::Value runtimeInfo(const Napi::CallbackInfo& info) {
  const runtime::RuntimeInfo r = runtime::runtimeInfo();
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("torchVersion", r.torchVersion);
  out.Set("builtWithCuda", r.builtWithCuda);
  out.Set("cudaAvailable", r.cudaAvailable);
  out.Set("cudaDeviceCount", r.cudaDeviceCount);
  out.Set("threads", r.threads);
  return out;
}

// manualSeed(seed): torch.manual_seed, the default generators of every device (LoRA dropout draws from them).
Napi::Value manualSeed(const Napi::CallbackInfo& info) {
  if (!info[0].IsNumber() || info[0].As<Napi::Number>().DoubleValue() < 0)
    throw Napi::TypeError::New(info.Env(), "seed must be a non-negative integer");
  at::manual_seed(static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value()));
  return info.Env().Undefined();
}

Napi::Value setNumThreads(const Napi::CallbackInfo& info) {
  if (!info[0].IsNumber()) throw Napi::TypeError::New(info.Env(), "threads must be a number");
  try {
    runtime::setNumThreads(info[0].As<Napi::Number>().Int32Value());
  } catch (const alignkit::Error& e) {
    throw Napi::RangeError::New(info.Env(), e.what());
  }
  return info.Env().Undefined();
}

// cudaMemory(device, reset?) -> { allocated, peakAllocated, reserved, peakReserved } in bytes; with reset the
// peaks start afresh after reading.
Napi::Value cudaMemory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) throw Napi::TypeError::New(env, "device must be a number");
  const int device = info[0].As<Napi::Number>().Int32Value();
  try {
    const runtime::CudaMemory m = runtime::cudaMemory(device);
    if (info[1].ToBoolean()) runtime::resetCudaPeakMemory(device);
    Napi::Object out = Napi::Object::New(env);
    out.Set("allocated", static_cast<double>(m.allocated));
    out.Set("peakAllocated", static_cast<double>(m.peakAllocated));
    out.Set("reserved", static_cast<double>(m.reserved));
    out.Set("peakReserved", static_cast<double>(m.peakReserved));
    return out;
  } catch (const alignkit::Error& e) {
    Napi::Error error = Napi::Error::New(env, e.what());
    error.Set("code", Napi::String::New(env, e.code()));
    throw error;
  } catch (const c10::Error& e) {
    throw Napi::Error::New(env, e.what_without_backtrace());
  }
}

// randperm(n, seed) -> Int32Array: torch.randperm(n) from a CPU generator seeded with `seed` (< 2^53 here).
Napi::Value randperm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber() || !info[1].IsNumber())
    throw Napi::TypeError::New(env, "randperm(n, seed): numbers expected");
  const double seed = info[1].As<Napi::Number>().DoubleValue();
  if (seed < 0 || seed != static_cast<double>(static_cast<uint64_t>(seed)))
    throw Napi::RangeError::New(env, "randperm: seed must be a non-negative integer");
  try {
    const std::vector<int32_t> order =
        runtime::torchRandperm(info[0].As<Napi::Number>().Int64Value(), static_cast<uint64_t>(seed));
    Napi::Int32Array out = Napi::Int32Array::New(env, order.size());
    std::copy(order.begin(), order.end(), out.Data());
    return out;
  } catch (const alignkit::Error& e) {
    throw Napi::RangeError::New(env, e.what());
  }
}

// saveRngState(path) / loadRngState(path) -> Promise<void>: the default generators' states (runtime/rng_state.h).
Napi::Value withRngFile(const Napi::CallbackInfo& info, void (*work)(const std::string&)) {
  if (!info[0].IsString()) throw Napi::TypeError::New(info.Env(), "path must be a string");
  const std::string path = info[0].As<Napi::String>().Utf8Value();
  return PromiseWorker<bool>::start(
      info.Env(),
      [path, work] {
        work(path);
        return true;
      },
      [](Napi::Env env, bool&) -> Napi::Value { return env.Undefined(); });
}

Napi::Value saveRngState(const Napi::CallbackInfo& info) { return withRngFile(info, runtime::saveRngState); }
Napi::Value loadRngState(const Napi::CallbackInfo& info) { return withRngFile(info, runtime::loadRngState); }

// cpuCache() -> { idleBytes, liveBytes, peakLiveBytes, hits, misses, evictions } of the caching CPU allocator
// (runtime/cpu_caching_allocator.h).
Napi::Value cpuCache(const Napi::CallbackInfo& info) {
  const runtime::CpuCacheStats s = runtime::cpuCacheStats();
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("idleBytes", static_cast<double>(s.idleBytes));
  out.Set("liveBytes", static_cast<double>(s.liveBytes));
  out.Set("peakLiveBytes", static_cast<double>(s.peakLiveBytes));
  out.Set("hits", static_cast<double>(s.hits));
  out.Set("misses", static_cast<double>(s.misses));
  out.Set("evictions", static_cast<double>(s.evictions));
  return out;
}

Napi::Object init(Napi::Env env, Napi::Object exports) {
  runtime::tuneMalloc();  // before the worker threads allocate
  runtime::installCpuCachingAllocator();
  exports.Set("NativeModel", NativeModel::define(env));
  exports.Set("NativeOptimizer", NativeOptimizer::define(env));
  exports.Set("NativeProcessGroup", NativeProcessGroup::define(env));
  exports.Set("NativeGeneration", NativeGeneration::define(env));
  exports.Set("runtimeInfo", Napi::Function::New<runtimeInfo>(env, "runtimeInfo"));
  exports.Set("readSafetensors", Napi::Function::New<readSafetensors>(env, "readSafetensors"));
  exports.Set("cudaMemory", Napi::Function::New<cudaMemory>(env, "cudaMemory"));
  exports.Set("cpuCache", Napi::Function::New<cpuCache>(env, "cpuCache"));
  exports.Set("randperm", Napi::Function::New<randperm>(env, "randperm"));
  exports.Set("manualSeed", Napi::Function::New<manualSeed>(env, "manualSeed"));
  exports.Set("saveRngState", Napi::Function::New<saveRngState>(env, "saveRngState"));
  exports.Set("loadRngState", Napi::Function::New<loadRngState>(env, "loadRngState"));
  exports.Set("setNumThreads", Napi::Function::New<setNumThreads>(env, "setNumThreads"));
  registerLossOptions(env, exports);
  registerLogProbsProbe(env, exports);
  registerListwiseLoss(env, exports);
  return exports;
}

}  // namespace
}  // namespace alignkit::binding

// NODE_API_MODULE pastes its second argument into a symbol name, so it must be unqualified.
static Napi::Object initAddon(Napi::Env env, Napi::Object exports) { return alignkit::binding::init(env, exports); }
NODE_API_MODULE(alignkit, initAddon)
